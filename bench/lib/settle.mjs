// Between scenarios: let the kernel finish writing back what the previous one left dirty. A pull unpacks ~1 GB of
// files; its writeback went on for seconds into the next scenarios and made them slower (scenario 12 after a full run:
// 84 ms vs 68 ms alone, same commit, idle machine). Waits until Dirty + Writeback in /proc/meminfo drop below 16 MiB,
// at most 60 s, after a sync.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function dirtyKiB() {
  const m = readFileSync('/proc/meminfo', 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(m)?.[1] ?? 0);
  return kib('Dirty') + kib('Writeback');
}

/** Returns how long the settle took, in ms. */
export async function settleDisk() {
  const t0 = Date.now();
  execFileSync('sync');
  while (dirtyKiB() > 16 * 1024 && Date.now() - t0 < 60_000) await sleep(100);
  return Date.now() - t0;
}
