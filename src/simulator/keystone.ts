import { randomUUID } from 'node:crypto';
import { isObject, SchemaError, validate, type Schema } from './schema.js';
import { region } from './seed.js';
import { HttpError, route, type Service, type SimRequest, type SimResponse } from './server.js';
import type { Project, SimState, Token, User } from './state.js';

// Keystone as a Queens-or-older deployment would serve it: v3 plus the v2.0 API that the
// Buildbot seed's `os_auth_url=.../v2.0` needs (real Zed Keystone no longer has v2.0).

const validationTail =
  'The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';
const unauthorizedMessage = 'The request you have made requires authentication.';

function keystoneError(status: number, title: string, message: string, extra: Record<string, unknown> = {}): SimResponse {
  return { status, json: { error: { code: status, title, message, ...extra } } };
}

const badRequest = (message: string): HttpError => new HttpError(keystoneError(400, 'Bad Request', message));
const expecting = (attribute: string, target: string): HttpError =>
  badRequest(`Expecting to find ${attribute} in ${target}. ${validationTail}`);

function unauthorized(state: SimState, extra: Record<string, unknown> = {}): HttpError {
  const res = keystoneError(401, 'Unauthorized', unauthorizedMessage, extra);
  return new HttpError({ ...res, headers: { 'www-authenticate': `Keystone uri="${state.baseUrl}/identity"` } });
}

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

function buildCatalog(baseUrl: string): CatalogEntry[] {
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

// Keystone's v3 time format: whole seconds written with a microsecond fraction.
const v3Time = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, '.000000Z');

const nameOrId = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } as const satisfies Schema;

// keystone/auth/schema.py token_issue, reduced to the password method and project scope.
const tokenIssueSchema: Schema = {
  type: 'object',
  properties: {
    identity: {
      type: 'object',
      properties: {
        methods: { type: 'array', items: { type: 'string' } },
        password: {
          type: 'object',
          properties: {
            user: {
              type: 'object',
              properties: { id: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' }, domain: nameOrId },
            },
          },
        },
      },
      required: ['methods'],
    },
    scope: {
      type: ['object', 'string'],
      properties: {
        project: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'string' }, domain: nameOrId } },
      },
    },
  },
  required: ['identity'],
};

function requestJson(req: SimRequest): unknown {
  if (req.body.kind === 'malformed') throw expecting('valid JSON', 'request body');
  return req.body.kind === 'json' ? req.body.value : {};
}

function validateV3(auth: unknown): void {
  try {
    validate(tokenIssueSchema, auth);
  } catch (error) {
    if (!(error instanceof SchemaError)) throw error;
    const field = error.path.join('/');
    throw badRequest(field ? `Invalid input for field '${field}': ${error.detail}` : error.detail);
  }
}

type Ref = { id?: string; name?: string; domain?: { id?: string; name?: string } };

function v3Authenticate(state: SimState, body: unknown): { user: User; project: Project } {
  const auth = (isObject(body) && isObject(body.auth) ? body.auth : {}) as Record<string, unknown>;
  validateV3(auth);
  const identity = auth.identity as { methods: string[]; password?: { user?: Ref & { password?: string } } };
  const supported = ['password'];
  if (identity.methods.length === 0 || identity.methods.some((m) => !supported.includes(m))) {
    const res = keystoneError(401, 'Unauthorized', 'Attempted to authenticate with an unsupported method.', {
      identity: { methods: supported },
    });
    throw new HttpError({ ...res, headers: { 'www-authenticate': `Keystone uri="${state.baseUrl}/identity"` } });
  }
  if (!identity.password) throw expecting('password', 'identity');
  const userRef = identity.password.user;
  if (!userRef) throw expecting('user', 'password');
  if (userRef.id === undefined && userRef.name === undefined) {
    throw badRequest('Invalid input for field identity/password/user: id or name must be present.');
  }
  if (userRef.domain && userRef.domain.id === undefined && userRef.domain.name === undefined) {
    throw badRequest('Invalid input for field identity/password/user/domain: id or name must be present.');
  }
  if (userRef.id === undefined && !userRef.domain) throw expecting('domain', 'user');

  const scope = auth.scope;
  const projectRef = isObject(scope) ? (scope.project as Ref | undefined) : undefined;
  if (projectRef) {
    if (projectRef.id === undefined && projectRef.name === undefined) {
      throw badRequest('Invalid input for field scope/project: id or name must be present.');
    }
    if (projectRef.id === undefined && !projectRef.domain) throw expecting('domain', 'project');
  }

  const inDomain = (ref: Ref['domain'], domain: { id: string; name: string }): boolean =>
    ref === undefined || (ref.id !== undefined ? ref.id === domain.id : ref.name === domain.name);
  const user = state.users.find((u) =>
    userRef.id !== undefined ? u.id === userRef.id : u.name === userRef.name && inDomain(userRef.domain, u.domain),
  );
  if (!user || user.password !== userRef.password) throw unauthorized(state);
  // Unscoped tokens carry no catalog and no project; Nova and Glance could not use them.
  if (!projectRef) throw unauthorized(state);
  const project = [...state.projects.values()].find((p) =>
    projectRef.id !== undefined ? p.id === projectRef.id : p.name === projectRef.name && inDomain(projectRef.domain, p.domain),
  );
  if (!project || project !== user.project) throw unauthorized(state);
  return { user, project };
}

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

export function keystoneService(state: SimState): Service {
  const { baseUrl } = state;
  const catalog = buildCatalog(baseUrl);

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
      audit_ids: [token.auditId],
      expires_at: v3Time(token.expiresAt),
      issued_at: v3Time(token.issuedAt),
      project: {
        domain: { id: token.project.domain.id, name: token.project.domain.name },
        id: token.project.id,
        name: token.project.name,
      },
      is_domain: false,
      roles: token.roles.map((r) => ({ id: r.id, name: r.name })),
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
      json: { versions: { values: [versionV3(baseUrl), versionV2(baseUrl)] } },
    })),
    route('keystone.v3.version', 'GET', '/identity/v3/?', () => ({ status: 200, json: { version: versionV3(baseUrl) } })),
    route('keystone.v2.version', 'GET', '/identity/v2.0/?', () => ({ status: 200, json: { version: versionV2(baseUrl) } })),
    route('keystone.v3.tokens.create', 'POST', '/identity/v3/auth/tokens', (req) => {
      const { user } = v3Authenticate(state, requestJson(req));
      const token = state.issueToken(user, ['password']);
      return {
        status: 201,
        headers: { 'x-subject-token': token.id, vary: 'X-Auth-Token' },
        json: v3Token(token, req.query.nocatalog === undefined),
      };
    }),
    route('keystone.v2.tokens.create', 'POST', '/identity/v2.0/tokens', (req) => {
      const user = v2Authenticate(state, requestJson(req));
      return { status: 200, headers: { vary: 'X-Auth-Token' }, json: v2Access(state.issueToken(user, ['password'])) };
    }),
  ];

  return {
    prefix: '/identity',
    routes,
    unmatched: (_req, allowed) =>
      allowed.length > 0
        ? { ...keystoneError(405, 'Method Not Allowed', 'The method specified is not allowed for the requested URL.'), headers: { allow: allowed.join(', ') } }
        : keystoneError(404, 'Not Found', 'The resource could not be found.'),
    failed: () =>
      keystoneError(500, 'Internal Server Error', 'An unexpected error prevented the server from fulfilling your request.'),
  };
}
