import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, header, login, microversion, type Login } from './support/http.js';
import { openTarget, type Target } from './support/target.js';

let target: Target;
let demo: Login;

beforeAll(async () => {
  target = await openTarget();
  demo = await login(target, target.demo);
});

afterAll(async () => {
  await target?.close();
});

const unauthorized = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };

describe('microversion negotiation', () => {
  it('publishes the version range without a token', async () => {
    const res = await call('GET', `${demo.compute}/`);
    expect(res.status).toBe(200);
    expect(res.body.version).toEqual({
      id: 'v2.1',
      status: 'CURRENT',
      version: '2.93',
      min_version: '2.1',
      updated: '2013-07-23T11:33:21Z',
      links: [
        { rel: 'self', href: `${demo.compute}/` },
        { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
      ],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    });
    const root = await call('GET', demo.compute.replace(/\/v2\.1$/, '/'));
    expect(root.body.versions.map((v: { id: string; status: string }) => `${v.id} ${v.status}`)).toEqual(['v2.0 SUPPORTED', 'v2.1 CURRENT']);
  });

  it('answers in 2.1 without a header and echoes the version it used', async () => {
    const res = await call('GET', `${demo.compute}/servers`, { token: demo.token });
    expect(res.status).toBe(200);
    expect(header(res, 'openstack-api-version')).toBe('compute 2.1');
    expect(header(res, 'x-openstack-nova-api-version')).toBe('2.1');
    expect(header(res, 'x-compute-request-id')).toBe(header(res, 'x-openstack-request-id'));
  });

  it('resolves latest to the maximum, and takes the legacy header too', async () => {
    const latest = await call('GET', `${demo.compute}/servers`, { token: demo.token, headers: microversion('latest') });
    expect(header(latest, 'openstack-api-version')).toBe('compute 2.93');
    const legacy = await call('GET', `${demo.compute}/servers`, { token: demo.token, headers: { 'x-openstack-nova-api-version': '2.37' } });
    expect(header(legacy, 'x-openstack-nova-api-version')).toBe('2.37');
  });

  it('negotiates the header on the version document too', async () => {
    const ok = await call('GET', `${demo.compute}/`, { headers: microversion('2.50') });
    expect(ok.status).toBe(200);
    expect(header(ok, 'openstack-api-version')).toBe('compute 2.50');
    const tooHigh = await call('GET', `${demo.compute}/`, { headers: microversion('2.99') });
    expect(tooHigh.status).toBe(406);
    expect(header(tooHigh, 'openstack-api-version')).toBe('compute 2.99');
    expect(tooHigh.body.computeFault.code).toBe(406);
    const rootList = await call('GET', demo.compute.replace(/\/v2\.1$/, '/'), { headers: microversion('2.99') });
    expect(rootList.status).toBe(200);
  });

  it('refuses a version above the maximum with 406, and 2.latest with 400', async () => {
    const tooHigh = await call('GET', `${demo.compute}/servers`, { token: demo.token, headers: microversion('2.99') });
    expect(tooHigh.status).toBe(406);
    // The refused version is still echoed; a malformed one is not.
    expect(header(tooHigh, 'openstack-api-version')).toBe('compute 2.99');
    expect(tooHigh.body).toEqual({
      computeFault: { code: 406, message: 'Version 2.99 is not supported by the API. Minimum is 2.1 and maximum is 2.93.' },
    });
    const malformed = await call('GET', `${demo.compute}/servers`, { token: demo.token, headers: microversion('2.latest') });
    expect(malformed.status).toBe(400);
    expect(header(malformed, 'openstack-api-version')).toBeUndefined();
    expect(malformed.body).toEqual({
      badRequest: { code: 400, message: 'API Version String 2.latest is of invalid format. Must be of format MajorNum.MinorNum.' },
    });
  });
});

describe('flavors', () => {
  it('finds the test flavor by name in the detailed list, and by id', async () => {
    const list = await call('GET', `${demo.compute}/flavors/detail`, { token: demo.token });
    expect(list.status).toBe(200);
    const tiny = list.body.flavors.find((f: { name: string }) => f.name === target.flavor);
    expect(tiny).toEqual({
      id: 'tiny',
      name: 'tiny',
      ram: 64,
      disk: 1,
      swap: '',
      'OS-FLV-EXT-DATA:ephemeral': 0,
      'OS-FLV-DISABLED:disabled': false,
      vcpus: 1,
      'os-flavor-access:is_public': true,
      rxtx_factor: 1,
      links: [
        { rel: 'self', href: `${demo.compute}/flavors/tiny` },
        { rel: 'bookmark', href: `${demo.compute.replace(/\/v2\.1$/, '')}/flavors/tiny` },
      ],
    });
    const byId = await call('GET', `${demo.compute}/flavors/${tiny.id}`, { token: demo.token });
    expect(byId.body.flavor).toEqual(tiny);
    const latest = await call('GET', `${demo.compute}/flavors/${tiny.id}`, { token: demo.token, headers: microversion('latest') });
    expect(latest.body.flavor).toMatchObject({ swap: 0, description: null, extra_specs: {} });
  });

  it('answers an unknown flavor with itemNotFound', async () => {
    const res = await call('GET', `${demo.compute}/flavors/no-such-flavor`, { token: demo.token });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ itemNotFound: { code: 404, message: 'Flavor no-such-flavor could not be found.' } });
  });
});

describe('limits', () => {
  it('shows absolute limits and usage, per microversion', async () => {
    const base = await call('GET', `${demo.compute}/limits`, { token: demo.token });
    expect(base.status).toBe(200);
    expect(base.body.limits.rate).toEqual([]);
    expect(Object.keys(base.body.limits.absolute).sort()).toEqual(
      [
        'maxImageMeta', 'maxPersonality', 'maxPersonalitySize', 'maxSecurityGroupRules', 'maxSecurityGroups',
        'maxServerGroupMembers', 'maxServerGroups', 'maxServerMeta', 'maxTotalCores', 'maxTotalFloatingIps',
        'maxTotalInstances', 'maxTotalKeypairs', 'maxTotalRAMSize', 'totalCoresUsed', 'totalFloatingIpsUsed',
        'totalInstancesUsed', 'totalRAMUsed', 'totalSecurityGroupsUsed', 'totalServerGroupsUsed',
      ],
    );
    expect(base.body.limits.absolute).toMatchObject({ maxTotalFloatingIps: -1, maxSecurityGroups: -1, totalFloatingIpsUsed: 0 });
    const latest = await call('GET', `${demo.compute}/limits`, { token: demo.token, headers: microversion('latest') });
    expect(Object.keys(latest.body.limits.absolute).sort()).toEqual(
      [
        'maxServerGroupMembers', 'maxServerGroups', 'maxServerMeta', 'maxTotalCores', 'maxTotalInstances',
        'maxTotalKeypairs', 'maxTotalRAMSize', 'totalCoresUsed', 'totalInstancesUsed', 'totalRAMUsed', 'totalServerGroupsUsed',
      ],
    );
    for (const value of Object.values(latest.body.limits.absolute)) expect(Number.isInteger(value)).toBe(true);
  });
});

describe('authentication in front of Nova', () => {
  it('answers a missing or unknown token with 401', async () => {
    for (const token of [undefined, 'gAAAAABnot-a-token']) {
      const res = await call('GET', `${demo.compute}/servers`, { token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(unauthorized);
      expect(header(res, 'www-authenticate')).toBe(`Keystone uri="${target.authUrl}"`);
    }
  });

  it('answers an unknown path behind the token with webob 404', async () => {
    const res = await call('GET', `${demo.compute}/no-such-thing`, { token: demo.token });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: 'The resource could not be found.<br /><br />\n\n\n', code: '404 Not Found', title: 'Not Found' });
  });
});
