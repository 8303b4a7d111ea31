/** An OpenLDAP module under testcontainers' conventions (slipway's `OpenLdapContainer`; testcontainers-node has none). */
import { checkBaseDn, checkOrganisation, ldapUrl, openLdapService, type OpenLdapSettings } from '../../modules/openldap.js';
import { checkText } from '../../modules/service-container.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * OpenLDAP on 389, ready once the directory answers; the admin binds as `cn=admin,<base DN>`. LDIF files copied to
 * `/docker-entrypoint-initdb.d/` are added on the first start. Every `with*` mutates and returns this builder.
 * @example
 * import { Client } from 'ldapts';
 * import { OpenLdapContainer } from 'slipway/testcontainers';
 * const ldap = new OpenLdapContainer('openldap:2.5');
 * ldap.withAdminPassword('secret');
 * await using started = await ldap.start();
 * await new Client({ url: started.getLdapUrl() }).bind(started.getAdminDn(), started.getAdminPassword());
 */
export class OpenLdapContainer extends ServiceGenericContainer<OpenLdapSettings, StartedOpenLdapContainer> {
  constructor(image: string) { super(image, openLdapService); }

  /** `LDAP_BASE_DN`. @defaultValue 'dc=example,dc=org' */
  withBaseDn(baseDn: string): this { return this.update({ baseDn: checkBaseDn(baseDn) }); }
  /** `LDAP_ORGANISATION`. @defaultValue 'Example Inc.' */
  withOrganisation(name: string): this { return this.update({ organisation: checkOrganisation(name) }); }
  /** `LDAP_ADMIN_PASSWORD`. @defaultValue 'admin' */
  withAdminPassword(password: string): this { return this.update({ adminPassword: checkText('admin password', password) }); }

  protected wrap(started: StartedTestContainer, settings: Readonly<OpenLdapSettings>): StartedOpenLdapContainer {
    return new StartedOpenLdapContainer(started, settings);
  }
}

/**
 * A started {@link OpenLdapContainer}.
 * @example
 * import { OpenLdapContainer } from 'slipway/testcontainers';
 * await using ldap = await new OpenLdapContainer('openldap:2.5').start();
 * ldap.getLdapUrl(); // ldap://127.0.0.1:PORT
 * ldap.getBaseDn(); // 'dc=example,dc=org'
 */
export class StartedOpenLdapContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, private readonly settings: Readonly<OpenLdapSettings>) { super(started); }

  /** The host port that reaches 389. */
  getPort(): number { return this.getMappedPort(openLdapService.port); }
  /** `ldap://host:port`. */
  getLdapUrl(): string { return ldapUrl(this.getHost(), this.getPort()); }
  getBaseDn(): string { return this.settings.baseDn; }
  /** `cn=admin,<base DN>`. */
  getAdminDn(): string { return `cn=admin,${this.settings.baseDn}`; }
  getAdminPassword(): string { return this.settings.adminPassword; }
}
