import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { SlipwayError } from '../errors.js';
import { COMPOSE_SPEC_SCHEMA } from './compose-spec-schema.js';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    // The vendored schema names draft-07 without its trailing '#'; ajv's draft-07 meta-schema is the default anyway.
    const { $schema: _meta, $id: _id, ...schema } = COMPOSE_SPEC_SCHEMA;
    compiled = new Ajv({ allErrors: true, strict: false, verbose: true }).compile(schema);
  }
  return compiled;
}

/**
 * Validates one interpolated Compose file against the Compose Specification's JSON schema, as `docker compose` does.
 * @throws SlipwayError `ERR_COMPOSE_INVALID` naming the file, the path (`services.web`) and, for an unknown key, the allowed keys.
 */
export function validateCompose(doc: unknown, file: string): void {
  const validate = validator();
  if (validate(doc)) return;
  const errors = validate.errors ?? [];
  const best = pick(errors);
  throw new SlipwayError('ERR_COMPOSE_INVALID', `${file}: ${describe(best)}`, {
    hint: 'fix the key or value the message names (the Compose Specification: https://compose-spec.io)',
    details: errors.length > 1 ? `all schema errors:\n${errors.slice(0, 12).map((e) => `  ${describe(e)}`).join('\n')}` : undefined,
  });
}

/** The most useful error: an unknown key first (a typo), then the deepest path (oneOf alternatives report shallower ones). */
function pick(errors: ErrorObject[]): ErrorObject {
  const unknown = errors.filter((e) => e.keyword === 'additionalProperties');
  const pool = unknown.length ? unknown : errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const list = pool.length ? pool : errors;
  return list.reduce((a, b) => (depth(b) > depth(a) ? b : a));
}

function depth(e: ErrorObject): number { return e.instancePath.split('/').length; }

function dotted(instancePath: string): string {
  if (instancePath === '') return '(top level)';
  return instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? `[${s}]` : s)).join('.').replace(/\.\[/g, '[');
}

function describe(e: ErrorObject): string {
  const at = dotted(e.instancePath);
  if (e.keyword === 'additionalProperties') {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    return `${at}: unknown key "${key}"${allowed.length ? ` (allowed: ${allowed.join(', ')}${allowed.length ? ', x-*' : ''})` : ''}`;
  }
  if (e.keyword === 'enum') return `${at}: must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at}: ${e.message ?? 'is invalid'}`;
}
