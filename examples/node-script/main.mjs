// slipway without a test runner: a plain Node script (ESM) that starts a web server in a container,
// talks to it, and removes it in `finally` — also when something in between throws.
//   node examples/node-script/main.mjs
import { Container, Wait } from 'slipway';

const web = await new Container('busybox:latest')
  .withFile('/www/index.html', 'hello from a container\n')
  .withCommand(['httpd', '-f', '-p', '8080', '-h', '/www'])
  .expose(8080)
  .waitFor(Wait.forHttp('/', 8080))
  .start();
try {
  const res = await fetch(`http://${web.host}:${web.getMappedPort(8080)}/`);
  console.log(`GET / -> ${res.status} ${(await res.text()).trim()}`);
  if (!res.ok) process.exitCode = 1;
} finally {
  await web.remove();
}
