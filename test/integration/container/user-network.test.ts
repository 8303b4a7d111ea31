import { expect, it } from 'vitest';
import { Container, Network } from '../../../src/index.js';
import { engineRuntime, fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const fetchScript = (host: string, port: number) =>
  `exec 3<>/dev/tcp/${host}/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && tail -n1 <&3`;

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('user networks', () => {
  it('containers on one network reach each other by alias and name; another network cannot', async () => {
    await using net = await Network.create();
    await using other = await Network.create();
    await using db = await new Container(fixtureRef('busybox')).withName('database').withNetwork(net, { aliases: ['db'] })
      .withFile('/www/index.html', 'hello from db')
      .withCommand(['httpd', '-f', '-p', '5432', '-h', '/www']).start();
    const dbIp = db.getIpAddress(net.name);
    // The container has the address the API reports (natively on eth1 in 10.89/16; on an engine its network's subnet).
    expect((await db.exec(['ip', '-4', '-o', 'addr'])).stdout).toContain(`inet ${dbIp}/`);
    if (!engineRuntime()) expect(dbIp).toMatch(/^10\.89\.\d+\.\d+$/);

    const byAlias = await new Container(fixtureRef('debian')).withNetwork(net).withCommand(['bash', '-c', fetchScript('db', 5432)]).run();
    expect(byAlias).toMatchObject({ exitCode: 0, stdout: 'hello from db' });
    const byName = await new Container(fixtureRef('debian')).withNetwork(net).withCommand(['bash', '-c', fetchScript('database', 5432)]).run();
    expect(byName).toMatchObject({ exitCode: 0, stdout: 'hello from db' });

    // /etc/hosts, not getent: a failed lookup would fall through to DNS, which slirp4netns forwards off this machine.
    const outsider = await new Container(fixtureRef('debian')).withNetwork(other)
      .withCommand(['bash', '-c', `grep -qw db /etc/hosts && echo has-name || echo no-name; timeout 3 bash -c 'exec 3<>/dev/tcp/${dbIp}/5432' && echo connected || echo unreachable`]).run();
    expect(outsider.stdout).toBe('no-name\nunreachable\n');
  });

  nativeOnly('an engine names members through its DNS, not /etc/hosts (builder.test.ts resolves an alias on both)')('a container that joins later is added to the /etc/hosts of those already running', async () => {
    await using net = await Network.create();
    await using first = await new Container(fixtureRef('busybox')).withNetwork(net, { aliases: ['first'] }).withCommand(['sleep', '1000']).start();
    await using second = await new Container(fixtureRef('busybox')).withName('second-one').withNetwork(net, { aliases: ['cache'] }).withCommand(['sleep', '1000']).start();
    const hosts = (await first.exec(['cat', '/etc/hosts'])).stdout;
    expect(hosts).toMatch(/10\.89\.\d+\.\d+\tsecond-one/);
    expect(hosts).toMatch(/10\.89\.\d+\.\d+\tcache/);
    expect((await second.exec(['cat', '/etc/hosts'])).stdout).toMatch(/10\.89\.\d+\.\d+\tfirst/);
    const ping = await first.exec(['ping', '-c', '1', '-W', '2', 'cache']);
    expect(ping.exitCode).toBe(0);
    await second.remove();
    expect((await first.exec(['cat', '/etc/hosts'])).stdout).not.toContain('cache');
  });
});
