import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { invalidArgument } from '../errors.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 389;

/**
 * Settings of {@link OpenLdapContainer}.
 * @example
 * import { OpenLdapContainer, type OpenLdapSettings } from 'slipway';
 * const defaults: OpenLdapSettings = { baseDn: 'dc=example,dc=org', organisation: 'Example Inc.', adminPassword: 'admin' };
 * new OpenLdapContainer('openldap:2.5').withBaseDn('dc=acme,dc=test').withOrganisation('Acme').withAdminPassword('pw');
 */
export interface OpenLdapSettings {
  /** The directory's root (`LDAP_BASE_DN`), `dc=…` or `o=…` first. @defaultValue 'dc=example,dc=org' */
  baseDn: string;
  /** The root entry's organisation name (`LDAP_ORGANISATION`). @defaultValue 'Example Inc.' */
  organisation: string;
  /** The password of `cn=admin,<base DN>` (`LDAP_ADMIN_PASSWORD`). @defaultValue 'admin' */
  adminPassword: string;
}

/** A base DN the image can make a root entry for: `dc=x,…` or `o=x,…`, no line breaks. */
export function checkBaseDn(value: unknown): string {
  const dn = checkText('base DN', value);
  if (!/^(dc|o)=[^,=|&\\\r\n]+(,[a-zA-Z]+=[^,=|&\\\r\n]+)*$/.test(dn)) {
    throw invalidArgument('base DN', dn, 'a DN whose first part is dc= or o=, e.g. dc=example,dc=org');
  }
  return dn;
}

/** An organisation name for the root entry's LDIF: one line. */
export function checkOrganisation(value: unknown): string {
  const name = checkText('organisation', value);
  if (/[\r\n]/.test(name)) throw invalidArgument('organisation', name, 'one line of text');
  return name;
}

/**
 * OpenLDAP (slapd) as a service module (shared by `slipway`'s {@link OpenLdapContainer} and `slipway/testcontainers`'),
 * over the common OpenLDAP images' variables (`LDAP_BASE_DN`, `LDAP_ORGANISATION`, `LDAP_ADMIN_PASSWORD`). Ready when
 * an anonymous search inside the container finds the base entry over TCP (the init-time server listens on its socket
 * only) and the published port answers.
 */
export const openLdapService: ServiceDefinition<OpenLdapSettings> = {
  port: PORT,
  defaults: { baseDn: 'dc=example,dc=org', organisation: 'Example Inc.', adminPassword: 'admin' },
  configure(c: Container, s: Readonly<OpenLdapSettings>): Container {
    const next = c.withEnv({ LDAP_BASE_DN: s.baseDn, LDAP_ORGANISATION: s.organisation, LDAP_ADMIN_PASSWORD: s.adminPassword });
    const found = Wait.forSuccessfulCommand(['ldapsearch', '-x', '-LLL', '-H', `ldap://127.0.0.1:${PORT}`, '-b', s.baseDn, '-s', 'base', '1.1']);
    return waitUnlessChosen(exposeUnlessPublished(next, PORT), Wait.forAll([found, Wait.forListeningPorts(PORT)]));
  },
};

/** `ldap://host:port`. */
export function ldapUrl(host: string, port: number): string { return `ldap://${host}:${port}`; }

/**
 * OpenLDAP, published on a free host port and ready once the directory answers; the admin binds as
 * `cn=admin,<base DN>`. LDIF files copied to `/docker-entrypoint-initdb.d/` are added on the first start.
 *
 * Immutable: every `with*` returns a new builder (a dropped result changes nothing).
 *
 * @example
 * import { Client } from 'ldapts';
 * import { OpenLdapContainer } from 'slipway';
 * await using ldap = await new OpenLdapContainer('openldap:2.5').withAdminPassword('secret').start();
 * const client = new Client({ url: ldap.getLdapUrl() });
 * await client.bind(ldap.getAdminDn(), ldap.getAdminPassword());
 */
export class OpenLdapContainer extends ServiceContainer<OpenLdapSettings, StartedOpenLdapContainer> {
  protected readonly definition = openLdapService;

  /** @param image - @defaultValue 'openldap:2.5' */
  constructor(image = 'openldap:2.5', /** @internal */ state?: ModuleState<OpenLdapSettings>) {
    super(state ?? { container: moduleContainer(image), settings: openLdapService.defaults });
  }

  /** The directory's root, e.g. `dc=shop,dc=test` (`LDAP_BASE_DN`). Returns a new builder. */
  withBaseDn(baseDn: string): OpenLdapContainer { return this.withSettings({ baseDn: checkBaseDn(baseDn) }); }
  /** The root entry's organisation name (`LDAP_ORGANISATION`). Returns a new builder. */
  withOrganisation(name: string): OpenLdapContainer { return this.withSettings({ organisation: checkOrganisation(name) }); }
  /** The password of `cn=admin,<base DN>` (`LDAP_ADMIN_PASSWORD`). Returns a new builder. */
  withAdminPassword(password: string): OpenLdapContainer { return this.withSettings({ adminPassword: checkText('admin password', password) }); }

  protected copy(state: ModuleState<OpenLdapSettings>): this {
    return new OpenLdapContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedOpenLdapContainer {
    return new StartedOpenLdapContainer(started, this.settings);
  }
}

/**
 * A started {@link OpenLdapContainer}.
 * @example
 * import { OpenLdapContainer } from 'slipway';
 * await using ldap = await new OpenLdapContainer('openldap:2.5').withBaseDn('dc=acme,dc=test').start();
 * ldap.getLdapUrl(); // ldap://127.0.0.1:PORT
 * ldap.getAdminDn(); // 'cn=admin,dc=acme,dc=test'
 */
export class StartedOpenLdapContainer extends StartedServiceContainer {
  readonly #settings: Readonly<OpenLdapSettings>;

  /** @internal */
  constructor(container: StartedContainer, settings: Readonly<OpenLdapSettings>) {
    super(container);
    this.#settings = settings;
  }

  /** The host port that reaches 389. */
  getPort(): number { return this.getMappedPort(PORT); }
  /** `ldap://host:port`, for `new Client({ url })` of ldapts. */
  getLdapUrl(): string { return ldapUrl(this.getHost(), this.getPort()); }
  getBaseDn(): string { return this.#settings.baseDn; }
  /** `cn=admin,<base DN>`, the directory's root DN. */
  getAdminDn(): string { return `cn=admin,${this.#settings.baseDn}`; }
  getAdminPassword(): string { return this.#settings.adminPassword; }
}
