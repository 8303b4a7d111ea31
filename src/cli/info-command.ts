/**
 * `slipway info`: the effective configuration, where each value came from (`default`, a file, `env NAME`), and the
 * facts about this host that decide whether containers can run (user, subordinate ids).
 */
import { configFiles, loadConfig, SETTINGS, SETTING_KEYS, type SettingKey, type SlipwayConfig } from '../config/index.js';
import type { InfoCommand } from './args.js';
import { write, type CliIO } from './io.js';
import { version } from './version.js';
import { describeRuntime, subordinateIdStatus } from '../runtime/index.js';

const AUTO_STATE_DIR = '$XDG_RUNTIME_DIR/slipway, /run/slipway as root, else $TMPDIR/slipway-<uid>';

function show(key: SettingKey, value: SlipwayConfig[SettingKey]): string {
  if (key === 'stateDir' && value === undefined) return '(auto, see below)';
  if (value === undefined) return '(none)';
  if (Array.isArray(value)) return value.length ? value.join(', ') : '(none)';
  if (typeof value === 'object') {
    const pairs = Object.entries(value);
    return pairs.length ? pairs.map(([k, v]) => `${k}=${v}`).join(', ') : '(none)';
  }
  return String(value);
}

/** `slipway info [--json]`. */
export async function infoCommand(cmd: InfoCommand, io: CliIO): Promise<number> {
  const config = loadConfig({ env: io.env });
  const where = configFiles({ env: io.env });
  const uid = process.getuid?.() ?? 0;
  const ids = subordinateIdStatus();
  const runtime = await describeRuntime(config.values.runtime, io.env);
  if (cmd.json) {
    const settings = Object.fromEntries(SETTING_KEYS.map((k) => [k, {
      value: config.values[k] === Infinity ? 'Infinity' : config.values[k] ?? null, origin: config.origins[k], env: SETTINGS[k].env,
    }]));
    await write(io.stdout, `${JSON.stringify({ version: version(), uid, rootless: uid !== 0, subordinateIds: ids, runtime, files: config.files, searched: where, settings })}\n`);
    return 0;
  }
  const rows = SETTING_KEYS.map((k) => [k, show(k, config.values[k]), config.origins[k]] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.min(60, Math.max(...rows.map((r) => r[1].length)));
  let out = `slipway ${version()} (uid ${uid}, ${uid === 0 ? 'root' : 'rootless'})\n`;
  if (uid !== 0) {
    const range = (r: { start: number; count: number } | undefined): string => (r ? `${r.start}-${r.start + r.count - 1}` : 'none');
    out += ids.ok
      ? `subordinate ids of ${ids.user}: uids ${range(ids.uidRange)}, gids ${range(ids.gidRange)}\n`
      : `subordinate ids: MISSING (${ids.problems.join('; ')}): images with files of other owners will not start; fix: ${ids.fix}\n`;
  }
  out += `runtime: ${runtime.kind}${runtime.engine ? ` at ${runtime.engine}` : ''} (${runtime.reason})\n`;
  out += '\n';
  out += 'Configuration (lowest precedence first: defaults, ~/.testcontainers.properties, the user file, the project file, environment):\n';
  out += `  project file: ${where.project ?? '(none: no slipway.config.json from here upward)'}\n`;
  out += `  user file:    ${where.user}${config.files.includes(where.user) ? '' : ' (absent)'}\n`;
  out += `  testcontainers: ${where.testcontainers}${config.files.includes(where.testcontainers) ? '' : ' (absent)'}\n\n`;
  out += `  ${'SETTING'.padEnd(w0)}  ${'VALUE'.padEnd(w1)}  FROM\n`;
  for (const [k, v, from] of rows) out += `  ${k.padEnd(w0)}  ${v.padEnd(w1)}  ${from}\n`;
  if (config.values.stateDir === undefined) out += `  (stateDir auto: ${AUTO_STATE_DIR})\n`;
  out += '\nEnvironment variables (the first set one wins):\n';
  for (const k of SETTING_KEYS) out += `  ${k.padEnd(w0)}  ${SETTINGS[k].env.join(', ')}\n`;
  await write(io.stdout, out);
  return 0;
}
