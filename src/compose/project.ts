import { SlipwayError } from '../errors.js';
import type { ComposeDocument, RawService } from './load.js';

/** A dependency edge: `depends_on.<service>` after normalisation. */
export interface Dependency {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
}

export function dependenciesOf(svc: RawService): Record<string, Dependency> {
  return (svc.depends_on as Record<string, Dependency> | undefined) ?? {};
}

/**
 * The services `up(services)` starts, as `docker compose up [services]` picks them: the named services (whatever
 * their profiles) or every service enabled by the active profiles, plus everything they depend on. A required
 * dependency that is not defined, or (without names) one disabled by its profiles, is an error; an optional one
 * (`required: false`) is skipped.
 * @throws SlipwayError `ERR_COMPOSE_INVALID` for an unknown service, a missing dependency or a dependency cycle.
 */
export function selectServices(doc: ComposeDocument, profiles: readonly string[], requested?: readonly string[]): string[] {
  const all = doc.services;
  const enabled = (name: string) => {
    const p = (all[name]?.profiles as string[] | undefined) ?? [];
    return p.length === 0 || p.some((x) => profiles.includes(x) || profiles.includes('*'));
  };
  for (const r of requested ?? []) {
    if (!all[r]) throw new SlipwayError('ERR_COMPOSE_INVALID', `no such service: ${r}`, { hint: `the project defines ${Object.keys(all).join(', ') || 'no services'}` });
  }
  const roots = requested?.length ? [...requested] : Object.keys(all).filter(enabled);
  const explicit = !!requested?.length;
  const picked = new Set<string>();
  const visit = (name: string, stack: string[]) => {
    if (stack.includes(name)) throw new SlipwayError('ERR_COMPOSE_INVALID', `dependency cycle: ${[...stack, name].join(' → ')}`, { hint: 'remove one of the depends_on entries' });
    if (picked.has(name)) return;
    picked.add(name);
    for (const [dep, d] of Object.entries(dependenciesOf(all[name]!))) {
      const ok = !!all[dep] && (explicit || enabled(dep));
      if (!ok) {
        if (!d.required) continue;
        const why = all[dep] ? `which is not enabled by the active profiles (it needs one of: ${((all[dep]!.profiles as string[]) ?? []).join(', ')})` : 'which is not defined';
        throw new SlipwayError('ERR_COMPOSE_INVALID', `service ${name} depends on ${dep}, ${why}`, {
          hint: all[dep] ? `enable a profile with withProfiles(), or name ${dep} in up()` : `define ${dep}, or mark the dependency required: false`,
        });
      }
      visit(dep, [...stack, name]);
    }
  };
  for (const r of roots) visit(r, []);
  return [...picked];
}
