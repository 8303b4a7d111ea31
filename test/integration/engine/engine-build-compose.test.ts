// Builds and Compose on the engine: Container.fromDockerfile goes to the engine's builder (POST /build, the context
// as `docker build` sends it), a compose project's resources carry the session label, and kill -9 of the test process
// removes them (the watchdog).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ComposeEnvironment, Container, SlipwayError } from '../../../src/index.js';
import { buildImage } from '../../../src/build/builder.js';
import type { BuildProgress } from '../../../src/build/build-options.js';
import { main } from '../../../src/cli/main.js';
import { fixtureRef, registry, skipUnless } from '../harness/index.js';
import { buildScratch, engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const root = fileURLToPath(new URL('../../..', import.meta.url));
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const { tree, images } = buildScratch('slipway-engine-build-');
async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: builds and compose', () => {
  it('fromDockerfile builds with the engine\'s builder: .dockerignore, build args, target stage; the image runs there', async () => {
    const ctx = tree({
      'Dockerfile': [
        'ARG BASE', 'FROM ${BASE} AS base', 'ARG GREETING=unset', 'COPY . /ctx/', 'RUN echo "$GREETING" > /greeting',
        'FROM base AS test', 'RUN echo test-stage > /stage',
        'FROM base', 'RUN echo final-stage > /stage', '',
      ].join('\n'),
      '.dockerignore': 'secret.txt\nlogs\n!logs/keep.log\n',
      'app.txt': 'app', 'secret.txt': 'must not be sent', 'logs/drop.log': 'x', 'logs/keep.log': 'k',
    });
    const tag = `localhost/slipway-engine-build-${process.pid}:test`;
    images.push(tag);
    const ref = await Container.fromDockerfile(ctx, { tag, target: 'test', buildArgs: { BASE: fixtureRef('busybox'), GREETING: 'from args' } });
    expect(ref).toBe(tag);
    const r = await new Container(ref).withCommand(['sh', '-c', 'cat /greeting /stage; cd /ctx && find . -type f | sort']).run();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('from args\ntest-stage\n./.dockerignore\n./Dockerfile\n./app.txt\n./logs/keep.log\n');
    // No tag: named as natively (localhost/slipway-build:<id prefix>), and in the engine's store.
    const untagged = await Container.fromDockerfile(ctx, { buildArgs: { BASE: fixtureRef('busybox') } });
    images.push(untagged);
    expect(untagged).toMatch(/^localhost\/slipway-build:[0-9a-f]{12}$/);
    expect((await new Container(untagged).withCommand(['cat', '/stage']).run()).stdout).toBe('final-stage\n');
  }, 180_000);

  it('BuildKit builds a plain Dockerfile by default; DOCKER_BUILDKIT=0 keeps the classic builder; both report the same steps, output and cache hits', async () => {
    const ctx = tree({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nENV A=1\nCOPY app.txt /app.txt\nRUN echo "ran $A" && cat /app.txt\nCMD ["cat", "/app.txt"]\n`,
      'app.txt': `app ${process.pid}\n`,
    });
    const build = async (classic: boolean, cache: boolean) => {
      const events: BuildProgress[] = [];
      const tag = `localhost/slipway-engine-builder-${process.pid}:${classic ? 'classic' : 'buildkit'}`;
      images.push(tag);
      const saved = process.env.DOCKER_BUILDKIT;
      if (classic) process.env.DOCKER_BUILDKIT = '0'; else delete process.env.DOCKER_BUILDKIT;
      try {
        const r = await buildImage(ctx, { tag, cache, onProgress: (e) => events.push(e) });
        const seq = events.map((e) => (e.type === 'output' ? `output ${e.line}` : `${e.type} ${e.step}/${e.total}${e.type === 'step' && e.cached ? ' cached' : ''}`));
        // Which builder made it: BuildKit's Dockerfile frontend marks each history entry.
        const comments = docker('history', '--no-trunc', '--format', '{{.Comment}}', tag);
        return { seq, counts: [r.executed, r.cached], buildKit: comments.includes('buildkit.dockerfile.v0'), out: (await new Container(r.ref).run()).stdout };
      } finally {
        if (saved === undefined) delete process.env.DOCKER_BUILDKIT; else process.env.DOCKER_BUILDKIT = saved;
      }
    };
    const ran = ['step 1/5 cached', 'step 2/5 cached', 'step 3/5', 'done 3/5', 'step 4/5', 'output ran 1', `output app ${process.pid}`, 'done 4/5', 'step 5/5 cached'];
    const cached = ['step 1/5 cached', 'step 2/5 cached', 'step 3/5 cached', 'step 4/5 cached', 'step 5/5 cached'];
    for (const classic of [false, true]) {
      expect(await build(classic, false)).toEqual({ seq: ran, counts: [2, 0], buildKit: !classic, out: `app ${process.pid}\n` });
      expect(await build(classic, true)).toEqual({ seq: cached, counts: [0, 2], buildKit: !classic, out: `app ${process.pid}\n` });
    }
  }, 240_000);

  it('a failing RUN is ERR_BUILD_STEP_FAILED with the step\'s output; a missing context is ERR_BUILD_CONTEXT', async () => {
    const ctx = tree({ Dockerfile: `FROM ${fixtureRef('busybox')}\nRUN echo "the step says why" && exit 3\n` });
    const err = await Container.fromDockerfile(ctx).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_BUILD_STEP_FAILED'), String(err)).toBe(true);
    expect((err as SlipwayError).message).toMatch(/Dockerfile line 2: RUN echo .* exited with code 3/);
    expect((err as SlipwayError).message).toContain('the step says why');
    await expect(Container.fromDockerfile(join(ctx, 'nope'))).rejects.toMatchObject({ code: 'ERR_BUILD_CONTEXT' });
  }, 120_000);

  it('syntax the engine\'s builders lack is ERR_UNSUPPORTED naming the line before the context is sent: heredocs and later COPY/ADD flags, which neither the classic builder nor Docker 20.10\'s BuildKit has', async () => {
    const from = `FROM ${fixtureRef('busybox')}`;
    const cases: [string, RegExp, RegExp][] = [
      [`${from}\nRUN <<EOF\necho hi\nEOF\n`, /line 2 \(RUN <<EOF\)/, /BuildKit/],
      [`${from}\nCOPY --link Dockerfile /x\n`, /line 2 \(COPY --link\)/, /BuildKit/],
      [`${from}\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:1/x /x\n`, /line 2 \(ADD --checksum\)/, /BuildKit/],
      [`${from}\nRUN --mount=type=cache,target=/c true\nCOPY <<EOF /x\nhi\nEOF\n`, /line 3 \(COPY <<EOF\)/, /BuildKit/],
    ];
    for (const [dockerfile, where, builder] of cases) {
      const err = await Container.fromDockerfile(tree({ Dockerfile: dockerfile })).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_UNSUPPORTED'), `${dockerfile}: ${String(err)}`).toBe(true);
      expect((err as SlipwayError).message).toMatch(where);
      expect((err as SlipwayError).message).toMatch(builder);
    }
  }, 60_000);

  it('compose snapshots: a file\'s x-slipway snapshot is skipped on the engine; withSnapshots() is ERR_UNSUPPORTED naming the services, before anything starts', async () => {
    const dir = tree({
      'compose.yml': [
        'services:',
        '  box:',
        `    image: ${registry()}/library/busybox:latest`,
        '    command: ["sleep", "1000"]',
        '    x-slipway: { snapshot: true }',
        '  other:',
        `    image: ${registry()}/library/busybox:latest`,
        '    command: ["sleep", "1000"]',
        '',
      ].join('\n'),
    });
    const project = `snap-${process.pid}`;
    {
      await using env = await new ComposeEnvironment(dir).withProjectName(project).up();
      expect(env.getContainer('box-1').snapshot).toBeUndefined();
      expect((await env.getContainer('box-1').exec(['true'])).exitCode).toBe(0);
    }
    const err = await new ComposeEnvironment(dir).withProjectName(project).withSnapshots().up().catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_UNSUPPORTED'), String(err)).toBe(true);
    expect((err as SlipwayError).message).toMatch(/services box, other: snapshots need the native runtime/);
    expect((err as SlipwayError).hint).toContain('SLIPWAY_RUNTIME=native');
    expect(docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)).toBe('');
  }, 120_000);

  it('slipway compose ps/logs/exec find a project\'s engine containers (no owner process is asked: the engine serves them)', async () => {
    const project = `cli-engine-${process.pid}`;
    const file = join(root, 'test/fixtures/compose/cli/compose.yml');
    await using env = await new ComposeEnvironment(join(file, '..')).withProjectName(project).withEnvironment({ REGISTRY: registry() }).up();
    const cli = async (args: string[], stdin?: string) => {
      const out = new PassThrough();
      const err = new PassThrough();
      const chunks = { out: '', err: '' };
      out.on('data', (b: Buffer) => { chunks.out += b.toString(); });
      err.on('data', (b: Buffer) => { chunks.err += b.toString(); });
      const code = await main(['compose', '-f', file, '-p', project, ...args], {
        stdout: out, stderr: err, env: { ...process.env, REGISTRY: registry() }, onSignal: () => () => {},
        ...(stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(stdin)]) }),
      });
      return { code, ...chunks };
    };
    const ps = await cli(['ps', '--json']);
    expect(ps.code, ps.err).toBe(0);
    const listed = ps.out.trim().split('\n').map((l) => JSON.parse(l) as { service: string; state: string; id: string; ports: { container: number; hostPort: number }[] });
    expect(listed.map((c) => [c.service, c.state])).toEqual([['cache', 'running'], ['web', 'running']]);
    expect(listed[0]!.id).toBe(env.getContainer('cache-1').id);
    expect(listed[0]!.ports.find((p) => p.container === 6379)?.hostPort).toBe(env.getContainer('cache-1').getMappedPort(6379));
    expect(await cli(['exec', 'cache', 'redis-cli', 'ping'])).toMatchObject({ code: 0, out: 'PONG\n' });
    expect((await cli(['exec', 'web', 'sh', '-c', 'exit 3'])).code).toBe(3);
    expect(await cli(['exec', '-T', 'web', 'sh', '-c', 'cat > /data/in && cat /data/in'], 'through stdin\n')).toMatchObject({ code: 0, out: 'through stdin\n' });
    expect(await cli(['logs', 'web'])).toEqual({ code: 0, out: 'web-1 | hello from web\n', err: 'web-1 | warning from web\n' });
    expect((await cli(['ps', '--json'].concat(['cache']))).out.trim().split('\n')).toHaveLength(1);
  }, 120_000);

  it('kill -9 during a compose project: the watchdog removes its containers, network and named volume', async () => {
    const dir = tree({
      'compose.yml': [
        'services:',
        '  db:',
        `    image: ${registry()}/library/busybox:latest`,
        '    command: ["sleep", "1000"]',
        '    volumes: ["data:/data"]',
        '    healthcheck: { test: ["CMD", "true"], interval: 250ms }',
        '  app:',
        `    image: ${registry()}/library/busybox:latest`,
        '    command: ["sleep", "1000"]',
        '    depends_on: { db: { condition: service_healthy } }',
        'volumes:',
        '  data: {}',
        '',
      ].join('\n'),
    });
    const script = join(dir, 'child.mts');
    writeFileSync(script, `
      import { ComposeEnvironment } from ${JSON.stringify(join(root, 'src/index.ts'))};
      const env = await new ComposeEnvironment(${JSON.stringify(dir)}).withProjectName('killed-${process.pid}').up();
      console.log(env.getContainer('app-1').id);
      setInterval(() => {}, 1000);
    `);
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLIPWAY_RUNTIME: 'engine' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    await waitFor(() => /[0-9a-f]{64}/.test(out), 90_000);
    const filter = `label=com.docker.compose.project=killed-${process.pid}`;
    const session = docker('inspect', '-f', '{{index .Config.Labels "org.slipway.session"}}', /[0-9a-f]{64}/.exec(out)![0]);
    const bySession = `label=org.slipway.session=${session}`;
    expect(docker('ps', '-aq', '--filter', filter).split('\n')).toHaveLength(2);
    expect(docker('network', 'ls', '--format', '{{.Name}}', '--filter', bySession)).toBe(`killed-${process.pid}_default`);
    expect(docker('volume', 'ls', '-q', '--filter', bySession)).not.toBe('');
    child.kill('SIGKILL');
    await once(child, 'exit');
    await waitFor(() => docker('ps', '-aq', '--filter', filter) === '' && docker('network', 'ls', '-q', '--filter', bySession) === '' && docker('volume', 'ls', '-q', '--filter', bySession) === '', 60_000);
  }, 150_000);
});
