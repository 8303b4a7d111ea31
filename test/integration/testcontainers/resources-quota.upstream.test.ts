/**
 * testcontainers-node v12.1.0 `generic-container-resources-quota.test.ts`, ported in our words to
 * `slipway/testcontainers` with its image (cristianrgreco/testcontainer:1.1.14) from the test registry.
 * Upstream reads HostConfig.Memory/NanoCpus from Docker's inspect; here the container's cgroup (v1, root) is read:
 * memory.limit_in_bytes is the bytes asked rounded down to a page by the kernel (as under Docker), and cpu.cfs_quota_us
 * over cpu.cfs_period_us is the CPUs asked; "not set" is no limit at all. Root only: upstream skips quotas rootless,
 * and slipway needs a delegated cgroup for them there (test/integration/container/limits.test.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { GenericContainer, type StartedTestContainer } from '../../../src/testcontainers.js';
import { isRoot, skipUnless } from '../harness/index.js';
import { canRun, IMAGE, useHubPrefix } from './upstream.js';

const V1 = '/sys/fs/cgroup';
const hasV1 = (() => { try { return readdirSync(`${V1}/memory`).includes('memory.limit_in_bytes'); } catch { return false; } })();
const PAGE = 4096;
const UNLIMITED_MEMORY = 9223372036854771712n; // the v1 "max", a page-rounded LONG_MAX

/** The container's memory limit in bytes and CPU quota in CPUs, from the cgroups its process is in. */
function limits(c: StartedTestContainer): { memory: bigint; cpus: number } {
  const pid = c.slipway.pid;
  const groups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const path = (ctrl: string) => new RegExp(`^\\d+:[^:]*\\b${ctrl}\\b[^:]*:(.*)$`, 'm').exec(groups)![1]!;
  const memory = BigInt(readFileSync(`${V1}/memory${path('memory')}/memory.limit_in_bytes`, 'utf8').trim());
  const cpuDir = `${V1}/cpu${path('cpu')}`;
  const quota = Number(readFileSync(`${cpuDir}/cpu.cfs_quota_us`, 'utf8').trim());
  const period = Number(readFileSync(`${cpuDir}/cpu.cfs_period_us`, 'utf8').trim());
  return { memory, cpus: quota < 0 ? 0 : quota / period };
}

const pageRounded = (bytes: number) => BigInt(Math.floor(bytes / PAGE) * PAGE);

skipUnless(canRun && isRoot() && hasV1, 'cgroup v1 limits need root and a v1 memory controller')('GenericContainer resources quota (testcontainers-node suite, ported)', { timeout: 180_000 }, () => {
  useHubPrefix();

  it('withResourcesQuota({ cpu: 1, memory: 0.5 }): 512 MiB and one CPU', async () => {
    await using c = await new GenericContainer(IMAGE).withResourcesQuota({ cpu: 1, memory: 0.5 }).start();
    expect(limits(c)).toEqual({ memory: 536870912n, cpus: 1 });
  });

  it('without a quota there is no memory or CPU limit', async () => {
    await using c = await new GenericContainer(IMAGE).start();
    expect(limits(c)).toEqual({ memory: UNLIMITED_MEMORY, cpus: 0 });
  });

  it('memory only leaves the CPU unlimited; cpu only leaves the memory unlimited', async () => {
    await using m = await new GenericContainer(IMAGE).withResourcesQuota({ memory: 0.5 }).start();
    expect(limits(m)).toEqual({ memory: 536870912n, cpus: 0 });
    await using p = await new GenericContainer(IMAGE).withResourcesQuota({ cpu: 1 }).start();
    expect(limits(p)).toEqual({ memory: UNLIMITED_MEMORY, cpus: 1 });
  });

  it('fractions round as Docker does (0.2 GB → 214748365 bytes, page-rounded by the kernel; 0.3 CPU)', async () => {
    await using c = await new GenericContainer(IMAGE).withResourcesQuota({ cpu: 0.3, memory: 0.2 }).start();
    expect(limits(c)).toEqual({ memory: pageRounded(214748365), cpus: 0.3 });
  });
});
