// Starts a container in a forked vitest worker, reports where it lives, then waits to be orphaned.
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'vitest';
import { Container } from '../../../src/index.js';

test('holds a container until the run is killed', async () => {
  let builder = new Container(process.env.FIXTURE_IMAGE!).withCommand(['/bin/sh', '-c', 'sleep 1000 & sleep 1000']);
  // cgroup v1 limits need root; v2 delegation is not on this CI's hosts.
  if (process.getuid!() === 0) builder = builder.withPids(64);
  const c = await builder.start();
  if (process.env.SLIPWAY_RUNTIME === 'engine') {
    // On an engine: the container's id, and its PID 1 (the engine's init) with its children, as this host sees them.
    const kids = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    writeFileSync(process.env.FIXTURE_OUT!, JSON.stringify({ workerPid: process.pid, mainPid: process.ppid, engineId: c.id, initPid: c.pid, children: kids, keeperPid: 0, keeperDir: '', cgroups: [] }));
    await new Promise((r) => setTimeout(r, 600_000));
    return;
  }
  const ppidOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  const keeperPid = ppidOf(c.pid);
  const stateRoot = readFileSync(`/proc/${keeperPid}/cmdline`, 'utf8').split('\0')[2]!;
  const keeperDir = `${stateRoot}/keeper-${keeperPid}`;
  let cgroups: string[] = [];
  try {
    cgroups = readFileSync(`${keeperDir}/${c.id.slice(0, 12)}/cgroups`, 'utf8').split('\n').filter(Boolean);
  } catch { /* no limits: no cgroups */ }
  const children = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  writeFileSync(process.env.FIXTURE_OUT!, JSON.stringify({ workerPid: process.pid, mainPid: process.ppid, keeperPid, initPid: c.pid, children, keeperDir, cgroups }));
  await new Promise((r) => setTimeout(r, 600_000));
});
