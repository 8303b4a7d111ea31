import { describe, expect, it } from 'vitest';
import { OpenLdapContainer, ZooKeeperContainer } from '../../../src/modules/index.js';

const describeWait = (o: { waitStrategy?: unknown }) => (o.waitStrategy as { describe(): string }).describe();

describe('OpenLdapContainer options', () => {
  it('defaults: example.org\'s base DN, admin/admin, 389 published, ready when the base entry is found over TCP', () => {
    const o = new OpenLdapContainer().build().options;
    expect(o.image).toBe('openldap:2.5');
    expect(o.env).toEqual({ LDAP_BASE_DN: 'dc=example,dc=org', LDAP_ORGANISATION: 'Example Inc.', LDAP_ADMIN_PASSWORD: 'admin' });
    expect(o.ports.map((p) => p.container)).toEqual([389]);
    expect(describeWait(o)).toContain('"ldapsearch","-x","-LLL","-H","ldap://127.0.0.1:389","-b","dc=example,dc=org"');
  });

  it('the admin password never reaches the readiness probe (a wait failure quotes it)', () => {
    const o = new OpenLdapContainer().withAdminPassword('s3cret-pw').withBaseDn('o=Shop,c=DE').build().options;
    expect(o.env.LDAP_ADMIN_PASSWORD).toBe('s3cret-pw');
    expect(describeWait(o)).not.toContain('s3cret-pw');
    expect(describeWait(o)).toContain('"o=Shop,c=DE"');
  });

  it('refuses a base DN or organisation that would change the LDIF or sed the image writes it with', () => {
    for (const dn of ['ou=people,dc=x', 'dc=a\ndc: evil', 'dc=a|b', 'dc=a&b', 'dc=', 'example.org']) {
      expect(() => new OpenLdapContainer().withBaseDn(dn), dn).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
    expect(() => new OpenLdapContainer().withOrganisation('Shop\nuserPassword: x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('ZooKeeperContainer options', () => {
  it('2181 published; ready when srvr answers with a mode inside the container and the port answers', () => {
    const o = new ZooKeeperContainer().build().options;
    expect(o.image).toBe('zookeeper:3.8');
    expect(o.ports.map((p) => p.container)).toEqual([2181]);
    expect(o.env).toEqual({});
    expect(describeWait(o)).toContain("printf srvr >&3 && grep -q '^Mode: ' <&3");
    expect(describeWait(o)).toContain('2181');
  });
});
