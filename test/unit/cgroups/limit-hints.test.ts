// The cgroup errors' hints tell users what to call: every builder method they name must exist (a hint once named a
// `bestEffort` option that no API has), and a limit refused rootless names withBestEffortLimits().
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { detectCgroups } from '../../../src/runtime/cgroups/detect.js';

const DIR = join(import.meta.dirname, '../../../src/runtime/cgroups');

describe('cgroup hints', () => {
  it('name only methods the Container builder has, and never the old "pass bestEffort"', () => {
    const text = readdirSync(DIR).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(DIR, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/pass bestEffort/);
    const named = new Set([...text.matchAll(/\b(with[A-Z]\w*)\(\)/g)].map((m) => m[1]!));
    expect(named.has('withBestEffortLimits')).toBe(true);
    for (const m of named) expect(typeof (Container.prototype as unknown as Record<string, unknown>)[m], m).toBe('function');
  });

  it('rootless on cgroup v1: the reason and withBestEffortLimits() in the hint', async () => {
    const mountinfo = '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n';
    const env = await detectCgroups({ mountinfo, procSelfCgroup: '5:memory:/user.slice\n', uid: 1000 });
    expect(env.hint).toContain('withBestEffortLimits()');
  });
});
