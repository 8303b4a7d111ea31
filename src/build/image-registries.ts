/** The registries a Dockerfile pulls from, for the credentials an engine build sends along (X-Registry-Config). */
import { parseReference } from '../image/reference.js';
import type { DockerfileStages } from './stages.js';
import { expandWord } from './substitute.js';

/**
 * The registries of the images a Dockerfile names (FROM and COPY --from, global ARGs and build args expanded; earlier
 * stages, by name or index, and scratch left out).
 */
export function imageRegistries({ globals, stages }: DockerfileStages, buildArgs: Readonly<Record<string, string>>): string[] {
  const vars = new Map<string, string>();
  for (const ins of globals) {
    for (const w of ins.args.split(/\s+/)) {
      const [name, ...def] = w.split('=');
      const v = buildArgs[name!] ?? (def.length ? def.join('=') : undefined);
      if (name && v !== undefined) vars.set(name, v);
    }
  }
  const earlier = new Set<string>();
  const out = new Set<string>();
  const add = (word: string | undefined): void => {
    if (word === undefined) return;
    const name = expandWord(word, vars);
    if (!name || name.toLowerCase() === 'scratch' || earlier.has(name.toLowerCase())) return;
    try {
      out.add(parseReference(name).domain);
    } catch {
      // not a reference the engine could pull either: its builder says so
    }
  };
  for (const st of stages) {
    // A stage's own name is not yet in scope on its FROM line (`FROM alpine AS alpine` pulls alpine).
    add(st.from.args.split(/\s+/)[0]);
    earlier.add(String(st.index));
    if (st.name) earlier.add(st.name);
    for (const ins of st.steps) if (ins.keyword === 'COPY') add(ins.flags.from?.[0]);
  }
  return [...out];
}
