import { badRequest, expecting, keystoneError, unauthorized, wwwAuthenticate } from './keystoneErrors.js';
import { isObject, SchemaError, validate, type Schema } from './schema.js';
import { HttpError } from './server.js';
import type { ApplicationCredentialRecord, Project, SimState, Token, TokenOptions, User } from './state.js';

// POST /v3/auth/tokens (keystone/auth/core.py and plugins): the password, token and
// application_credential methods, with project scope. A request without a scope gets the
// user's default project, as Keystone does for users that have one (every simulated user does).

const nameOrId = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } as const satisfies Schema;
const userRef: Schema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' }, domain: nameOrId },
};

// keystone/auth/schema.py token_issue, reduced to the methods and the scope served here.
const tokenIssueSchema: Schema = {
  type: 'object',
  properties: {
    identity: {
      type: 'object',
      properties: {
        methods: { type: 'array', items: { type: 'string' } },
        password: { type: 'object', properties: { user: userRef } },
        token: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        application_credential: {
          type: 'object',
          properties: { id: { type: 'string' }, name: { type: 'string' }, secret: { type: 'string' }, user: userRef },
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

const supported = ['password', 'token', 'application_credential'];

type Ref = { id?: string; name?: string; domain?: { id?: string; name?: string } };
type Identity = {
  methods: string[];
  password?: { user?: Ref & { password?: string } };
  token?: { id: string };
  application_credential?: Ref & { secret?: string; user?: Ref };
};

export interface Authenticated {
  user: User;
  methods: string[];
  options: TokenOptions;
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

const inDomain = (ref: Ref['domain'], domain: { id: string; name: string }): boolean =>
  ref === undefined || (ref.id !== undefined ? ref.id === domain.id : ref.name === domain.name);

function findUser(state: SimState, ref: Ref, where: string): User | undefined {
  if (ref.id === undefined && ref.name === undefined) throw badRequest(`Invalid input for field ${where}: id or name must be present.`);
  if (ref.domain && ref.domain.id === undefined && ref.domain.name === undefined) {
    throw badRequest(`Invalid input for field ${where}/domain: id or name must be present.`);
  }
  if (ref.id === undefined && !ref.domain) throw expecting('domain', 'user');
  return state.users.find((u) => (ref.id !== undefined ? u.id === ref.id : u.name === ref.name && inDomain(ref.domain, u.domain)));
}

/** The project the token will be scoped to; only the user's own project has roles for it. */
function scopedProject(state: SimState, scope: unknown, user: User): Project {
  const ref = isObject(scope) ? (scope.project as Ref | undefined) : undefined;
  if (!ref) return user.project;
  if (ref.id === undefined && ref.name === undefined) throw badRequest('Invalid input for field scope/project: id or name must be present.');
  if (ref.id === undefined && !ref.domain) throw expecting('domain', 'project');
  const project = [...state.projects.values()].find((p) =>
    ref.id !== undefined ? p.id === ref.id : p.name === ref.name && inDomain(ref.domain, p.domain),
  );
  if (!project || project !== user.project) throw unauthorized(state);
  return project;
}

function applicationCredential(state: SimState, auth: Record<string, unknown>, ref: NonNullable<Identity['application_credential']>): Authenticated {
  if ('scope' in auth) {
    throw unauthorized(state, {
      identity: {},
      message: 'Error authenticating with application credential: Application credentials cannot request a scope.',
    });
  }
  let credential: ApplicationCredentialRecord | undefined;
  if (ref.id !== undefined) {
    credential = state.applicationCredentials.get(ref.id);
    // A lookup by id says so when it finds nothing; by name it is a plain 401.
    if (!credential) throw new HttpError(keystoneError(404, 'Not Found', `Could not find Application Credential: ${ref.id}.`));
  } else {
    if (ref.name === undefined) throw expecting('name or ID', 'application credential');
    if (!ref.user) throw expecting('user', 'application credential');
    const owner = findUser(state, ref.user, 'identity/application_credential/user');
    credential = [...state.applicationCredentials.values()].find((c) => c.name === ref.name && c.user === owner);
  }
  const expired = credential?.expiresAt && credential.expiresAt.getTime() <= Date.now();
  if (!credential || expired || credential.secret !== ref.secret) throw unauthorized(state);
  return { user: credential.user, methods: ['application_credential'], options: { applicationCredential: credential } };
}

/** Rescoping: the new token inherits the old one's methods, audit id and expiry. */
function fromToken(state: SimState, auth: Record<string, unknown>, id: string): Authenticated {
  const original: Token | undefined = state.validToken(id);
  if (!original) throw new HttpError(keystoneError(404, 'Not Found', 'Could not recognize Fernet token'));
  scopedProject(state, auth.scope, original.user);
  return {
    user: original.user,
    methods: [...new Set([...original.methods, 'token'])],
    options: { expiresAt: original.expiresAt, parentAuditId: original.auditId },
  };
}

function password(state: SimState, auth: Record<string, unknown>, identity: Identity): Authenticated {
  if (!identity.password) throw expecting('password', 'identity');
  const ref = identity.password.user;
  if (!ref) throw expecting('user', 'password');
  const user = findUser(state, ref, 'identity/password/user');
  if (!user || user.password !== ref.password) throw unauthorized(state);
  scopedProject(state, auth.scope, user);
  return { user, methods: ['password'], options: {} };
}

export function v3Authenticate(state: SimState, body: unknown): Authenticated {
  const auth = (isObject(body) && isObject(body.auth) ? body.auth : {}) as Record<string, unknown>;
  validateV3(auth);
  const identity = auth.identity as Identity;
  if (identity.methods.length === 0 || identity.methods.some((m) => !supported.includes(m))) {
    const res = keystoneError(401, 'Unauthorized', 'Attempted to authenticate with an unsupported method.', {
      identity: { methods: supported },
    });
    throw new HttpError({ ...res, headers: wwwAuthenticate(state) });
  }
  if (identity.methods.includes('application_credential')) {
    if (!identity.application_credential) throw expecting('application_credential', 'identity');
    return applicationCredential(state, auth, identity.application_credential);
  }
  if (identity.methods.includes('token')) {
    if (!identity.token) throw expecting('token', 'identity');
    return fromToken(state, auth, identity.token.id);
  }
  return password(state, auth, identity);
}
