// The demo: start a container from a local image, talk to it through a published port, exec in it, stop it.
// Run with `npm run demo` (which builds the package and a tiny busybox image first).
import { Container, Wait } from 'slipway';

const image = process.argv[2] ?? process.env.SLIPWAY_DEMO_IMAGE;
if (!image) {
  console.error('usage: node examples/demo.mjs <image reference>   (npm run demo passes a local busybox image)');
  process.exit(2);
}

const t0 = performance.now();
// Node 20 has no `await using` syntax (TypeScript compiles it down); plain JS uses try/finally.
const web = await new Container(image)
  .withFile('/www/index.html', '<h1>hello from inside a slipway container</h1>\n')
  .withCommand(['httpd', '-f', '-p', '8080', '-h', '/www'])
  .expose(8080)
  .waitFor(Wait.forHttp('/', 8080))
  .start();
const started = performance.now() - t0;

try {
  const url = `http://${web.host}:${web.getMappedPort(8080)}/`;
  const body = await (await fetch(url)).text();
  const { stdout } = await web.exec(['sh', '-c', 'echo "pid $$ in $(hostname), $(ps | wc -l) processes visible"']);

  console.log(`started ${image} in ${started.toFixed(0)} ms (container ${web.name})`);
  console.log(`GET ${url} -> ${body.trim()}`);
  console.log(`exec -> ${stdout.trim()}`);
  const exit = await web.stop();
  console.log(`stopped: ${JSON.stringify(exit)}`);
} finally {
  await web.remove();
}
