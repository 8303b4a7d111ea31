// Facts about the machine a result was measured on, stored with the results.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { sh } from './proc.mjs';

function cgroupVersion() {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'v2';
  if (existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) return 'hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)';
  if (existsSync('/sys/fs/cgroup/memory')) return 'v1';
  return 'unknown';
}

async function version(cmd, args = ['--version']) {
  const r = await sh(cmd, args, { allowFail: true, timeoutMs: 10_000 }).catch(() => undefined);
  if (!r || r.code !== 0) return null;
  return (r.stdout || r.stderr).trim().split('\n')[0];
}

export async function machineFacts() {
  const cpus = os.cpus();
  let distro = null;
  try { distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null; } catch { /* none */ }
  const dockerServer = await version('docker', ['version', '--format', '{{.Server.Version}}']);
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    distro,
    cgroup: cgroupVersion(),
    privileges: process.getuid?.() === 0 ? 'root' : 'rootless',
    versions: {
      node: process.version,
      docker: dockerServer ? `${dockerServer} (engine), ${await version('docker')} (client)` : await version('docker'),
      podman: await version('podman'),
      skopeo: await version('skopeo'),
      umoci: await version('umoci'),
      runc: await version('runc'),
      slirp4netns: await version('slirp4netns'),
      pasta: await version('pasta', ['--version']),
      containerd: await version('containerd'),
    },
  };
}
