// What testcontainers-node's own tests import from its internals, over slipway's compat entry point. Used only by
// scripts/measure-testcontainers-suite.mjs: every relative import of an upstream test file is rewritten to a copy of
// stub.ts, which re-exports this module.
//  - the public API comes from src/testcontainers.ts as it is (a missing name fails the test file, as it would a user's);
//  - test helpers that only talk to the container are re-implemented as upstream writes them;
//  - helpers that inspect Docker itself (dockerode, events, the reaper, image info) throw `INSPECTS_DOCKER: <name>`;
//  - Docker Hub images the suite uses are mapped to the fixture registry's stand-ins (see mapImage).
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import * as tc from '../../src/testcontainers.ts';
import { findContainer, listContainers, stopContainer } from '../../src/runtime/control/client.ts';

export * from '../../src/testcontainers.ts';

function fixtureImages(): Record<string, { tags: string[] }> {
  try {
    return JSON.parse(readFileSync(path.join(process.env.SLIPWAY_FIXTURES_DIR ?? '', 'fixtures.json'), 'utf8')).images;
  } catch {
    return {};
  }
}

/** The fixture standing in for an upstream image, or undefined when the name is used as given. */
function mapImage(image: string): { image: string; command?: string[] } | undefined {
  const images = fixtureImages();
  const stand = (tag: string) => images.testcontainer?.tags.includes(tag);
  if (/^cristianrgreco\/testcontainer:/.test(image)) {
    if (stand('1.1.14')) return { image: 'testcontainer:1.1.14' };
    // No stand-in built: busybox httpd answers /hello-world on 8080 (the other routes 404).
    return {
      image: 'busybox:latest',
      command: ['sh', '-c', 'mkdir -p /w && echo hello-world > /w/hello-world && echo Listening on port 8080 && exec httpd -f -v -p 8080 -h /w'],
    };
  }
  if (/^mendhak\/udp-listener(:|$)/.test(image) && stand('udp')) return { image: 'testcontainer:udp' };
  if (/^alpine(:|$)/.test(image)) return { image: 'busybox:latest' };
  return undefined;
}

export class GenericContainer extends tc.GenericContainer {
  constructor(image: string) {
    const mapped = mapImage(image);
    super(mapped?.image ?? image);
    if (mapped?.command) super.withCommand(mapped.command);
  }
}

/** Upstream reads `FROM` lines of the module's Dockerfile; the fixtures have one tag per service. */
export const getImage = (dirname: string, index = 0): string => {
  const from = readFileSync(path.resolve(dirname, '..', 'Dockerfile'), 'utf8').split(/\r?\n/)[index]?.split(' ')[1] ?? '';
  if (/^redis:/.test(from)) return 'redis:7';
  if (/^postgres:/.test(from)) return 'postgres:15';
  return from;
};

export const checkContainerIsHealthy = async (container: tc.StartedTestContainer): Promise<void> => {
  const response = await fetch(`http://${container.getHost()}:${container.getMappedPort(8080)}/hello-world`);
  expect(response.status).toBe(200);
};

export const checkContainerIsHealthyTls = async (container: tc.StartedTestContainer): Promise<void> => {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const response = await request(`https://${container.getHost()}:${container.getMappedPort(8443)}/hello-world`, { dispatcher });
  expect(response.statusCode).toBe(200);
};

export const checkContainerIsHealthyUdp = async (container: tc.StartedTestContainer): Promise<void> => {
  const testMessage = 'health_check';
  const client = createSocket('udp4');
  try {
    client.send(Buffer.from(testMessage), container.getFirstMappedPort(), container.getHost());
    const logs = await container.logs();
    for await (const log of logs) if (String(log).includes(testMessage)) return;
  } finally {
    client.close();
  }
};

export async function createTestServer(port: number) {
  const { createServer } = await import('node:http');
  const server = createServer((_req, res) => { res.writeHead(200); res.end('hello world'); });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return server;
}

export const createTempSymlinkedFile = async (content: string) => {
  const directory = await fs.promises.mkdtemp(path.join(tmpdir(), 'testcontainers-'));
  const source = path.join(directory, 'source.txt');
  const symlink = path.join(directory, 'symlink.txt');
  await fs.promises.writeFile(source, content);
  await fs.promises.symlink(source, symlink);
  return { source, symlink, [Symbol.asyncDispose]: () => fs.promises.rm(directory, { recursive: true, force: true }) };
};

// What `docker ps` / `docker stop` answer, asked of slipway's own equivalent: the containers of this user's slipway
// processes through their control sockets (`slipway ps` and `slipway stop` use the same client). Names come without
// Docker's leading `/`, as upstream's helpers strip it.
const containersIn = async (state: 'running' | 'exited'): Promise<string[]> =>
  (await listContainers()).containers.filter((c) => c.description.state === state).map((c) => c.description.name);
export const getRunningContainerNames = (): Promise<string[]> => containersIn('running');
export const getStoppedContainerNames = (): Promise<string[]> => containersIn('exited');

/** Upstream's helper: starts `container`, stops it from outside (as `docker stop` would) once it runs, awaits the start. */
export async function stopStartingContainer(container: tc.GenericContainer, name: string): Promise<void> {
  const starting = container.start();
  starting.catch(() => undefined);
  let found: Awaited<ReturnType<typeof findContainer>> | undefined;
  for (let i = 0; i < 20 && !found; i++) {
    found = await findContainer(name).then((c) => (c.description.state === 'running' ? c : undefined), () => undefined);
    if (!found) await new Promise((r) => setTimeout(r, 500));
  }
  if (!found) throw Error('failed start container');
  await stopContainer(found, 10_000);
  await starting;
}

// Docker's own view: no equivalent without a Docker daemon.
const inspectsDocker = (name: string) => async (..._args: unknown[]): Promise<never> => {
  (globalThis as { __inspectsDocker?: string }).__inspectsDocker = name;
  throw new Error(`INSPECTS_DOCKER: ${name}`);
};
export const getContainerRuntimeClient = inspectsDocker('getContainerRuntimeClient');
export const getHealthCheckStatus = inspectsDocker('getHealthCheckStatus');
export const getDockerEventStream = inspectsDocker('getDockerEventStream');
export const waitForDockerEvent = inspectsDocker('waitForDockerEvent');
export const getContainerIds = inspectsDocker('getContainerIds');
export const getImageInfo = inspectsDocker('getImageInfo');
export const checkImageExists = inspectsDocker('checkImageExists');
export const getRunningNetworkIds = inspectsDocker('getRunningNetworkIds');
export const getVolumeNames = inspectsDocker('getVolumeNames');
export const getVolumeIds = inspectsDocker('getVolumeIds');
export const getImageLabelsByName = inspectsDocker('getImageLabelsByName');
export const deleteImageByName = inspectsDocker('deleteImageByName');
export const getReaper = inspectsDocker('getReaper');
export const inspectContainerUntilPortsExposed = inspectsDocker('inspectContainerUntilPortsExposed');
export const LABEL_TESTCONTAINERS_SESSION_ID = 'org.testcontainers.session-id';
// The compat layer's own loggers (a spy on containerLog sees the lines it traces with DEBUG=testcontainers*).
export { containerLog } from '../../src/testcontainers/logger.ts';
export class ImageName {
  static fromString(_s: string): never {
    (globalThis as { __inspectsDocker?: string }).__inspectsDocker = 'ImageName';
    throw new Error('INSPECTS_DOCKER: ImageName');
  }
}
