import { randomUUID } from 'node:crypto';
import { applicationCredentialRoutes } from './keystoneAppCreds.js';
import { v3Authenticate } from './keystoneAuth.js';
import { expecting, flaskNotFound, keystoneError, unauthorized } from './keystoneErrors.js';
import { isObject } from './schema.js';
import { region } from './seed.js';
import { route, type Service, type SimRequest } from './server.js';
import type { SimState, Token, User } from './state.js';

// Keystone on Flask, as Zed serves it, plus (by default) the v2.0 API of a Queens-or-older
// deployment that the Buildbot seed's `os_auth_url=.../v2.0` needs. Real Zed has no v2.0: with
// `identityV2: false` the simulator answers v2.0 paths as Zed does, with Flask's 404 page.

/**
 * keystonemiddleware's auth_token in front of Nova and Glance: no token, an unknown one or an
 * expired one all get the same 401.
 */
export function requireToken(state: SimState, req: SimRequest): Token {
  const token = state.validToken(req.headers['x-auth-token']);
  if (!token) throw unauthorized(state);
  return token;
}

export const isAdmin = (token: Token): boolean => token.roles.some((r) => r.name === 'admin');

interface CatalogEntry {
  type: string;
  name: string;
  id: string;
  url: string;
  endpointIds: { public: string; internal: string; admin: string };
}

const interfaces = ['public', 'internal', 'admin'] as const;
const keystoneId = (): string => randomUUID().replace(/-/g, '');

export interface KeystoneOptions {
  identityV2: boolean;
  /** Cinder and Neutron in the catalog. */
  blockStorage: boolean;
  network: boolean;
}

function buildCatalog(baseUrl: string, options: KeystoneOptions): CatalogEntry[] {
  const entry = (type: string, name: string, url: string): CatalogEntry => ({
    type,
    name,
    url,
    id: keystoneId(),
    endpointIds: { public: keystoneId(), internal: keystoneId(), admin: keystoneId() },
  });
  return [
    entry('identity', 'keystone', `${baseUrl}/identity/v3`),
    // Newer Nova registers its endpoint without a project id.
    entry('compute', 'nova', `${baseUrl}/compute/v2.1`),
    entry('image', 'glance', `${baseUrl}/image`),
    // Cinder is registered under both its current and its older service type.
    ...(options.blockStorage
      ? [entry('block-storage', 'cinder', `${baseUrl}/volume/v3`), entry('volumev3', 'cinderv3', `${baseUrl}/volume/v3`)]
      : []),
    ...(options.network ? [entry('network', 'neutron', `${baseUrl}/network`)] : []),
  ];
}

const mediaType = (version: string) => [{ base: 'application/json', type: `application/vnd.openstack.identity-${version}+json` }];

function versionV3(baseUrl: string) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl}/identity/v3/` }],
    'media-types': mediaType('v3'),
  };
}

function versionV2(baseUrl: string) {
  return {
    id: 'v2.0',
    status: 'deprecated',
    updated: '2016-08-04T00:00:00Z',
    links: [
      { rel: 'self', href: `${baseUrl}/identity/v2.0/` },
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
    ],
    'media-types': mediaType('v2.0'),
  };
}

function requestJson(req: SimRequest): unknown {
  if (req.body.kind === 'malformed') throw expecting('valid JSON', 'request body');
  return req.body.kind === 'json' ? req.body.value : {};
}

// Keystone's v3 time format: whole seconds written with a microsecond fraction.
const v3Time = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, '.000000Z');

function v2Authenticate(state: SimState, body: unknown): User {
  const auth = isObject(body) ? body.auth : undefined;
  if (!isObject(auth)) throw expecting('auth', 'request body');
  const creds = auth.passwordCredentials;
  if (!isObject(creds)) throw expecting('passwordCredentials', 'auth');
  if (!('password' in creds)) throw expecting('password', 'passwordCredentials');
  if (!creds.userId && !creds.username) throw expecting('username or userId', 'passwordCredentials');
  // v2.0 only sees the default domain.
  const user = state.users.find(
    (u) => u.domain.id === 'default' && (creds.userId ? u.id === creds.userId : u.name === creds.username),
  );
  if (!user || user.password !== creds.password) throw unauthorized(state);
  const tenantId = auth.tenantId;
  const tenantName = auth.tenantName;
  if (!tenantId && !tenantName) throw unauthorized(state);
  const matches = tenantId ? user.project.id === tenantId : user.project.name === tenantName;
  if (!matches || user.project.domain.id !== 'default') throw unauthorized(state);
  return user;
}

export function keystoneService(state: SimState, options: KeystoneOptions): Service {
  const { baseUrl } = state;
  const catalog = buildCatalog(baseUrl, options);

  const v3Catalog = () =>
    catalog.map((s) => ({
      type: s.type,
      name: s.name,
      id: s.id,
      endpoints: interfaces.map((iface) => ({
        id: s.endpointIds[iface],
        interface: iface,
        region,
        region_id: region,
        url: s.url,
      })),
    }));

  const v2Catalog = () =>
    catalog.map((s) => ({
      type: s.type,
      name: s.name,
      endpoints: [
        { region, publicURL: s.url, internalURL: s.url, adminURL: s.url, id: s.endpointIds.public },
      ],
      endpoints_links: [],
    }));

  const v3Token = (token: Token, withCatalog: boolean) => ({
    token: {
      methods: token.methods,
      user: {
        domain: { id: token.user.domain.id, name: token.user.domain.name },
        id: token.user.id,
        name: token.user.name,
        password_expires_at: null,
      },
      audit_ids: token.parentAuditId ? [token.auditId, token.parentAuditId] : [token.auditId],
      expires_at: v3Time(token.expiresAt),
      issued_at: v3Time(token.issuedAt),
      project: {
        domain: { id: token.project.domain.id, name: token.project.domain.name },
        id: token.project.id,
        name: token.project.name,
      },
      is_domain: false,
      roles: token.roles.map((r) => ({ id: r.id, name: r.name })),
      ...(token.applicationCredential ? { application_credential: { ...token.applicationCredential, restricted: true } } : {}),
      ...(withCatalog ? { catalog: v3Catalog() } : {}),
    },
  });

  const v2Access = (token: Token) => ({
    access: {
      token: {
        issued_at: token.issuedAt.toISOString().replace(/\.\d{3}Z$/, '.000000'),
        expires: token.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        id: token.id,
        tenant: { description: null, enabled: true, id: token.project.id, name: token.project.name },
        audit_ids: [token.auditId],
      },
      serviceCatalog: v2Catalog(),
      user: {
        username: token.user.name,
        roles_links: [],
        id: token.user.id,
        roles: token.roles.map((r) => ({ name: r.name })),
        name: token.user.name,
      },
      metadata: { is_admin: 0, roles: token.roles.map((r) => r.id) },
    },
  });

  const routes = [
    route('keystone.versions', 'GET', '/identity/?', () => ({
      status: 300,
      json: { versions: { values: options.identityV2 ? [versionV3(baseUrl), versionV2(baseUrl)] : [versionV3(baseUrl)] } },
    })),
    route('keystone.v3.version', 'GET', '/identity/v3/?', () => ({ status: 200, json: { version: versionV3(baseUrl) } })),
    route('keystone.v2.version', 'GET', '/identity/v2.0/?', () =>
      options.identityV2 ? { status: 200, json: { version: versionV2(baseUrl) } } : flaskNotFound,
    ),
    route('keystone.v3.tokens.create', 'POST', '/identity/v3/auth/tokens', (req) => {
      const { user, methods, options: tokenOptions } = v3Authenticate(state, requestJson(req));
      const token = state.issueToken(user, methods, tokenOptions);
      return {
        status: 201,
        headers: { 'x-subject-token': token.id, vary: 'X-Auth-Token' },
        json: v3Token(token, req.query.nocatalog === undefined),
      };
    }),
    route('keystone.v2.tokens.create', 'POST', '/identity/v2.0/tokens', (req) => {
      if (!options.identityV2) return flaskNotFound;
      const user = v2Authenticate(state, requestJson(req));
      return { status: 200, headers: { vary: 'X-Auth-Token' }, json: v2Access(state.issueToken(user, ['password'])) };
    }),
    ...applicationCredentialRoutes(state, (req) => requireToken(state, req)),
  ];

  return {
    prefix: '/identity',
    routes,
    // Flask-RESTful's answers; Flask adds HEAD to GET views and OPTIONS to all.
    unmatched: (req, allowed) => {
      if (allowed.length === 0 || (!options.identityV2 && req.path.startsWith('/identity/v2.0'))) return flaskNotFound;
      const methods = [...(allowed.includes('GET') ? ['GET', 'HEAD'] : []), 'OPTIONS', ...allowed.filter((m) => m !== 'GET')];
      return { status: 405, headers: { allow: methods.join(', ') }, json: { message: 'The method is not allowed for the requested URL.' } };
    },
    failed: () =>
      keystoneError(500, 'Internal Server Error', 'An unexpected error prevented the server from fulfilling your request.'),
  };
}
