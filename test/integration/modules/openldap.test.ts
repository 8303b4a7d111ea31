import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, InvalidCredentialsError } from 'ldapts';
import { expect, it } from 'vitest';
import { OpenLdapContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** Runs `fn` with an ldapts client on `url`, unbinding after. */
async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ url, timeout: 10_000, connectTimeout: 10_000 });
  try {
    return await fn(client);
  } finally {
    await client.unbind().catch(() => {});
  }
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('OpenLDAP module', () => {
  it('ldapts: the admin adds a person with a password; the person binds with it, a wrong password is refused', async () => {
    await using ldap = await new OpenLdapContainer(fixtureRef('openldap')).withBaseDn('dc=shop,dc=test').withAdminPassword('adm-secret').start();
    expect(ldap.getLdapUrl()).toBe(`ldap://${ldap.getHost()}:${ldap.getPort()}`);
    expect(ldap.getAdminDn()).toBe('cn=admin,dc=shop,dc=test');
    await withClient(ldap.getLdapUrl(), async (admin) => {
      await admin.bind(ldap.getAdminDn(), ldap.getAdminPassword());
      await admin.add('ou=people,dc=shop,dc=test', { objectClass: ['organizationalUnit'], ou: 'people' });
      await admin.add('uid=ada,ou=people,dc=shop,dc=test', {
        objectClass: ['inetOrgPerson'], uid: 'ada', cn: 'Ada Lovelace', sn: 'Lovelace', mail: 'ada@shop.test', userPassword: 'engine-1843',
      });
      const { searchEntries } = await admin.search('dc=shop,dc=test', { scope: 'sub', filter: '(mail=ada@shop.test)', attributes: ['cn'] });
      expect(searchEntries).toEqual([{ dn: 'uid=ada,ou=people,dc=shop,dc=test', cn: 'Ada Lovelace' }]);
    });
    await withClient(ldap.getLdapUrl(), (c) => c.bind('uid=ada,ou=people,dc=shop,dc=test', 'engine-1843'));
    await withClient(ldap.getLdapUrl(), async (c) => {
      await expect(c.bind('uid=ada,ou=people,dc=shop,dc=test', 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
      await expect(c.bind(ldap.getAdminDn(), 'admin')).rejects.toBeInstanceOf(InvalidCredentialsError);
    });
    // Anonymous users read entries but never passwords.
    await withClient(ldap.getLdapUrl(), async (c) => {
      const { searchEntries } = await c.search('uid=ada,ou=people,dc=shop,dc=test', { scope: 'base', attributes: ['userPassword', 'sn'] });
      expect(searchEntries).toHaveLength(1);
      expect(searchEntries[0]).toMatchObject({ dn: 'uid=ada,ou=people,dc=shop,dc=test', sn: 'Lovelace' });
      expect(searchEntries[0]!.userPassword ?? []).toEqual([]); // ldapts lists a withheld attribute as []
    });
  });

  it('slipway/testcontainers: statement-style settings, and LDIF in /docker-entrypoint-initdb.d added on the first start only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-ldif-'));
    writeFileSync(join(dir, 'people.ldif'), [
      'dn: ou=people,o=Acme', 'objectClass: organizationalUnit', 'ou: people', '',
      'dn: uid=bob,ou=people,o=Acme', 'objectClass: inetOrgPerson', 'uid: bob', 'cn: Bob', 'sn: Builder', 'userPassword: can-we-fix-it', '',
    ].join('\n'));
    const builder = new tc.OpenLdapContainer(fixtureRef('openldap'));
    expect(builder).toBeInstanceOf(tc.GenericContainer);
    builder.withBaseDn('o=Acme');
    builder.withAdminPassword('acme-admin');
    builder.withCopyFilesToContainer([{ source: join(dir, 'people.ldif'), target: '/docker-entrypoint-initdb.d/people.ldif' }]);
    await using ldap = await builder.start();
    expect(ldap.getAdminDn()).toBe('cn=admin,o=Acme');
    await withClient(ldap.getLdapUrl(), (c) => c.bind('uid=bob,ou=people,o=Acme', 'can-we-fix-it'));
    await withClient(ldap.getLdapUrl(), async (c) => {
      await c.bind(ldap.getAdminDn(), 'acme-admin');
      const { searchEntries } = await c.search('o=Acme', { scope: 'base', attributes: ['o'] });
      expect(searchEntries).toEqual([{ dn: 'o=Acme', o: 'Acme' }]);
    });
    // A restart keeps the directory and does not add the LDIF again (it would fail: the entries exist).
    await ldap.restart();
    await withClient(ldap.getLdapUrl(), (c) => c.bind('uid=bob,ou=people,o=Acme', 'can-we-fix-it'));
    const ps = await ldap.exec(['sh', '-c', 'ls /proc | grep -E "^[0-9]+$" | while read p; do tr "\\0" " " </proc/$p/cmdline 2>/dev/null; echo; done']);
    expect(ps.stdout).toMatch(/slapd -d 256 -h ldap:\/\/\/ ldapi:\/\/\/ -u openldap/);
  });
});
