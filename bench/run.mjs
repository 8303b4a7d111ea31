#!/usr/bin/env node
// slipway's benchmark suite: `npm run bench` (or `node bench/run.mjs`), after `npm run build`.
// Peers (Docker, Podman, skopeo+umoci, testcontainers-node, slirp4netns, pasta) come from
// `sudo bash bench/setup-peers.sh`; a scenario or subject whose feature or peer is missing is
// skipped with the reason. Every ratio is measured in one run, subjects interleaved (A B A B…),
// warm-up rounds discarded.
//
// Options:
//   --only <ids>   comma-separated scenario ids or numbers (pull,run,ready,stop,parallel,ports,memory,cycles,build,compose,snapshot,inside)
//   --runs N       samples per subject (scenario 8: cycles)
//   --quick        fewer samples and smaller transfers, for a smoke run
//   --verbose      print every sample as it is taken
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, BENCH_DIR } from './lib/context.mjs';
import { machineFacts } from './lib/machine.mjs';
import { addRatios, formatTable, skippedRow } from './lib/report.mjs';
import { Skip } from './lib/proc.mjs';
import { settleDisk } from './lib/settle.mjs';

const SCENARIOS = ['pull', 'run', 'ready', 'stop', 'parallel', 'ports', 'memory', 'cycles', 'build', 'compose', 'snapshot', 'inside'];

function parseArgs(argv) {
  const opts = { quick: false, verbose: false, runs: undefined, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--runs') {
      opts.runs = Number(value());
      if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new Error('--runs expects a positive integer');
    } else if (a === '--only') {
      opts.only = value().split(',').map((s) => {
        const n = Number(s);
        const id = Number.isInteger(n) ? SCENARIOS[n - 1] : s;
        if (!SCENARIOS.includes(id)) throw new Error(`--only: unknown scenario '${s}' (one of ${SCENARIOS.join(', ')} or 1-12)`);
        return id;
      });
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--only pull,run,...|1,2,...] [--runs N] [--quick] [--verbose]');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const ctx = await createContext(opts);
  const onSignal = () => { ctx.close().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows = [];
  try {
    if (!ctx.slipway) ctx.note(`slipway subjects will be skipped: ${ctx.slipwayError}`);
    for (const [i, id] of SCENARIOS.entries()) {
      if (opts.only && !opts.only.includes(id)) continue;
      const mod = await import(`./scenarios/${i + 1}-${id}.mjs`);
      const label = `${i + 1} ${id}`;
      const settled = await settleDisk();
      ctx.note(`scenario ${label}: ${mod.title} (disk settled in ${settled} ms)`);
      const t0 = Date.now();
      try {
        const got = await mod.run(ctx, label);
        rows.push(...got);
      } catch (e) {
        if (e instanceof Skip) rows.push(skippedRow(label, mod.title, 'all', e.message));
        else {
          rows.push({ ...skippedRow(label, mod.title, 'all', undefined), skipped: undefined, failed: e.message.split('\n')[0] });
          ctx.note(`scenario ${label} failed: ${e.stack}`);
        }
      }
      ctx.note(`scenario ${label} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await ctx.close();
  }
  addRatios(rows);
  const table = formatTable(rows);
  const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  console.log(table);
  console.log('\nratio = subject median / slipway median of the same metric (for ms: above 1 means slipway is faster; for MB/s: below 1 means slipway is faster).');
  const machine = await machineFacts();
  console.log(`machine: ${machine.cores} cores, kernel ${machine.kernel}, cgroup ${machine.cgroup}, ${machine.privileges}, node ${machine.versions.node}`);
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), command, options: opts, machine, rows, table }, null, 2) + '\n');
  console.log(`results: ${file}`);
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
