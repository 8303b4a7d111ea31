/**
 * The engine backend's teardown guarantee: a small Node process, spawned on first use, that holds the read end of a
 * pipe from the test process. When the test process exits in any way (return, crash, SIGKILL) the pipe reaches EOF
 * and the watchdog removes every container, network and volume labelled with the session, then exits. It runs in a
 * process group of its own, so a terminal's Ctrl-C reaches only the test process. The engine must be reachable from
 * this machine (a remote engine needs a reaper container instead; see ARCHITECTURE.md). It also sweeps when a run owner
 * of this process dies (see {@link startWatchdog}), as the native keeper does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { logger } from '../internal/debug.js';
import type { EngineEndpoint } from './endpoint.js';

const log = logger('engine:watchdog');

/** The label every engine resource of one session carries (value: the session id). */
export const SESSION_LABEL = 'org.slipway.session';

// Plain JavaScript run with `node -e` (no file to resolve from the ESM, CommonJS or vitest build); Node built-ins only.
const SCRIPT = String.raw`
const cfg = JSON.parse(process.env.SLIPWAY_WATCHDOG);
delete process.env.SLIPWAY_WATCHDOG;
const mod = cfg.endpoint.tls ? require('node:https') : require('node:http');
function call(method, path) {
  return new Promise((resolve) => {
    const e = cfg.endpoint;
    const o = { method, path: '/v' + cfg.api + path, timeout: 30000 };
    // Over TCP the Host header stays the engine's own: https takes the name it checks the certificate against from it.
    if (e.kind === 'unix') { o.socketPath = e.socketPath; o.headers = { host: 'docker' }; } else { o.host = e.host; o.port = e.port; }
    if (e.tls) { o.ca = e.tls.ca && Buffer.from(e.tls.ca, 'base64'); o.cert = e.tls.cert && Buffer.from(e.tls.cert, 'base64'); o.key = e.tls.key && Buffer.from(e.tls.key, 'base64'); o.rejectUnauthorized = e.tls.verify; }
    const req = mod.request(o, (res) => { let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve({ status: res.statusCode, text: t })); });
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
const filter = encodeURIComponent(JSON.stringify({ label: [cfg.label + '=' + cfg.session] }));
async function list(path, key) {
  const r = await call('GET', path + '?all=1&filters=' + filter);
  try { const j = JSON.parse(r.text); return (key ? j[key] : j) || []; } catch { return []; }
}
async function sweep() {
  const containers = await list('/containers/json');
  await Promise.all(containers.map((c) => call('DELETE', '/containers/' + c.Id + '?force=1&v=1')));
  const networks = await list('/networks');
  await Promise.all(networks.map((n) => call('DELETE', '/networks/' + n.Id)));
  const volumes = await list('/volumes', 'Volumes');
  await Promise.all(volumes.map((v) => call('DELETE', '/volumes/' + encodeURIComponent(v.Name) + '?force=1')));
  return containers.length + networks.length + volumes.length;
}
process.stdin.on('data', () => {});
function rmdir() { try { require('node:fs').rmSync(cfg.dir, { recursive: true, force: true }); } catch {} }
let done = false;
async function end() { if (done) return; done = true; try { await sweep(); await sweep(); } finally { rmdir(); process.exit(0); } }
process.stdin.on('end', end);
process.stdin.on('error', end);
// The run's owners (a test runner's main process, which an orphaned worker outlives): gone, or their pid reused.
function startTime(pid) {
  try { const s = require('node:fs').readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]; } catch { return undefined; }
}
if (cfg.owners.length) setInterval(() => {
  for (const o of cfg.owners) { const [pid, start] = o.split(':'); const now = startTime(pid); if (now === undefined || (start && now !== start)) return end(); }
}, 200);
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
`;

/**
 * Starts the watchdog for `session` (it also removes `dir`); it does not keep the test process alive. `owners`
 * (`<pid>[:<starttime>]`, as the native keeper's `--watch=`) are processes the session must not outlive either: a test
 * runner's main process, whose SIGKILL leaves its forked workers running (polled every 200 ms: no pidfd in Node).
 */
export function startWatchdog(endpoint: EngineEndpoint, api: string, session: string, dir: string, owners: readonly string[] = []): ChildProcess {
  const e = endpoint.kind === 'unix'
    ? { kind: 'unix', socketPath: endpoint.socketPath }
    : {
        kind: 'tcp', host: endpoint.host, port: endpoint.port,
        tls: endpoint.tls && { ca: endpoint.tls.ca?.toString('base64'), cert: endpoint.tls.cert?.toString('base64'), key: endpoint.tls.key?.toString('base64'), verify: endpoint.tls.verify },
      };
  const child = spawn(process.execPath, ['-e', SCRIPT], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    env: { PATH: process.env.PATH ?? '', SLIPWAY_WATCHDOG: JSON.stringify({ endpoint: e, api, session, dir, owners, label: SESSION_LABEL }) },
  });
  child.on('error', (err) => log('watchdog: %O', err));
  child.unref();
  // The pipe must not keep the event loop alive either; it closes when this process ends.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.stdin?.on('error', () => {});
  log('watchdog pid %d for session %s', child.pid, session);
  return child;
}
