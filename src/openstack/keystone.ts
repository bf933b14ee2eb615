import { inspect } from 'node:util';
import { catalogFromV2, catalogFromV3, type Catalog } from './catalog.js';
import {
  checkCredentials,
  secretsOf,
  tokenCacheKey,
  v2Problem,
  type ApplicationCredentialCredentials,
  type CloudCredentials,
  type IdentityVersion,
  type PasswordCredentials,
  type ProjectScope,
  type TokenCredentials,
  type UserRef,
} from './credentials.js';
import { resolveTokenEndpoint, type TokenEndpoint } from './discovery.js';
import { header, isRecord, OpenStackError } from './errors.js';
import type { HttpClient, HttpResponse } from './http.js';
import type { TokenCache } from './tokenCache.js';

export interface CallOptions {
  signal?: AbortSignal;
}

export interface SessionSummary {
  expiresAt: string;
  projectId: string;
  userId: string | undefined;
  identityVersion: IdentityVersion;
  catalog: Catalog;
}

/**
 * A scoped token and its catalog. It lives in the worker process only: serialising or inspecting
 * it (a log line, an activity result that ends up in workflow history) shows no token.
 */
export class Session {
  constructor(
    readonly token: string,
    readonly expiresAt: Date,
    readonly projectId: string,
    readonly userId: string | undefined,
    readonly catalog: Catalog,
    readonly identityVersion: IdentityVersion,
  ) {}

  toJSON(): SessionSummary {
    return {
      expiresAt: this.expiresAt.toISOString(),
      projectId: this.projectId,
      userId: this.userId,
      identityVersion: this.identityVersion,
      catalog: this.catalog,
    };
  }

  [inspect.custom](): string {
    return `Session ${inspect(this.toJSON())}`;
  }
}

/**
 * One authentication against Keystone. Prefer `Authenticator`, which caches; its shared login
 * takes no caller's signal, so neither does this (the HTTP deadline still applies).
 */
export async function authenticate(http: HttpClient, credentials: CloudCredentials, endpoint: TokenEndpoint): Promise<Session> {
  const problem = endpoint.version === 'v2.0' ? v2Problem(credentials) : undefined;
  if (problem) {
    throw new OpenStackError(
      { kind: 'unsupportedVersion', service: 'identity', operation: 'authenticate', url: endpoint.url, retryable: false },
      `${credentials.authUrl} offers identity v2.0 only, and ${problem}`,
    );
  }
  const response = await http.request({
    service: 'identity',
    operation: 'authenticate',
    method: 'POST',
    url: endpoint.url,
    json: requestBody(credentials, endpoint.version),
    secrets: secretsOf(credentials),
  });
  return endpoint.version === 'v3' ? v3Session(endpoint.url, response) : v2Session(endpoint.url, response);
}

function requestBody(credentials: CloudCredentials, version: IdentityVersion): unknown {
  switch (credentials.authType) {
    case 'v3applicationcredential':
      return applicationCredentialBody(credentials);
    case 'v3token':
      return tokenBody(credentials);
    default:
      return version === 'v3' ? v3PasswordBody(credentials) : v2PasswordBody(credentials);
  }
}

function v3PasswordBody(credentials: PasswordCredentials): unknown {
  const user = { ...userRef(credentials), password: credentials.password };
  return { auth: { identity: { methods: ['password'], password: { user } }, scope: { project: projectRef(credentials) } } };
}

/** No scope: an application credential is bound to its project, and Keystone refuses a scope with it. */
function applicationCredentialBody(credentials: ApplicationCredentialCredentials): unknown {
  const secret = credentials.applicationCredentialSecret;
  const applicationCredential = credentials.applicationCredentialId
    ? { id: credentials.applicationCredentialId, secret }
    : { name: credentials.applicationCredentialName, secret, user: userRef(credentials) };
  return { auth: { identity: { methods: ['application_credential'], application_credential: applicationCredential } } };
}

function tokenBody(credentials: TokenCredentials): unknown {
  return { auth: { identity: { methods: ['token'], token: { id: credentials.token } }, scope: { project: projectRef(credentials) } } };
}

function userRef(user: UserRef): { id: string } | { name: string | undefined; domain: { id: string } | { name: string } } {
  return user.userId ? { id: user.userId } : { name: user.username, domain: domainRef(user.userDomainId, user.userDomainName) };
}

function projectRef(scope: ProjectScope): { id: string } | { name: string | undefined; domain: { id: string } | { name: string } } {
  return scope.projectId ? { id: scope.projectId } : { name: scope.projectName, domain: domainRef(scope.projectDomainId, scope.projectDomainName) };
}

function domainRef(id: string | undefined, name: string | undefined): { id: string } | { name: string } {
  return id ? { id } : { name: name ?? 'Default' };
}

function v2PasswordBody(credentials: PasswordCredentials): unknown {
  const auth: Record<string, unknown> = {
    passwordCredentials: { username: credentials.username, password: credentials.password },
  };
  if (credentials.projectId) auth.tenantId = credentials.projectId;
  else auth.tenantName = credentials.projectName;
  return { auth };
}

function v3Session(url: string, response: HttpResponse): Session {
  const token = header(response.headers, 'x-subject-token');
  const body = isRecord(response.body) && isRecord(response.body.token) ? response.body.token : undefined;
  if (!token || !body) invalid(url, response, 'expected an X-Subject-Token header and a "token" object');
  const project = isRecord(body.project) ? body.project : undefined;
  if (typeof project?.id !== 'string') invalid(url, response, 'the token is not scoped to a project');
  const user = isRecord(body.user) ? body.user : undefined;
  return new Session(
    token,
    expiry(url, response, body.expires_at),
    project.id,
    typeof user?.id === 'string' ? user.id : undefined,
    catalogFromV3(body.catalog),
    'v3',
  );
}

function v2Session(url: string, response: HttpResponse): Session {
  const access = isRecord(response.body) && isRecord(response.body.access) ? response.body.access : undefined;
  const token = access && isRecord(access.token) ? access.token : undefined;
  if (!access || !token || typeof token.id !== 'string') invalid(url, response, 'expected "access.token.id"');
  const tenant = isRecord(token.tenant) ? token.tenant : undefined;
  if (typeof tenant?.id !== 'string') invalid(url, response, 'the token is not scoped to a tenant');
  const user = isRecord(access.user) ? access.user : undefined;
  return new Session(
    token.id,
    expiry(url, response, token.expires),
    tenant.id,
    typeof user?.id === 'string' ? user.id : undefined,
    catalogFromV2(access.serviceCatalog),
    'v2.0',
  );
}

function expiry(url: string, response: HttpResponse, value: unknown): Date {
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) invalid(url, response, `token expiry ${JSON.stringify(value)} is not a timestamp`);
  return new Date(time);
}

function invalid(url: string, response: HttpResponse, detail: string): never {
  throw new OpenStackError(
    {
      kind: 'invalidResponse',
      service: 'identity',
      operation: 'authenticate',
      method: 'POST',
      url,
      status: response.status,
      requestId: response.requestId,
      retryable: false,
    },
    `unexpected token response: ${detail}`,
  );
}

/** Authentication for one set of credentials, through a (possibly shared) token cache. */
export class Authenticator {
  readonly cacheKey: string;
  private endpoint: TokenEndpoint | undefined;

  constructor(
    private readonly http: HttpClient,
    private readonly credentials: CloudCredentials,
    private readonly cache: TokenCache,
  ) {
    // Refuse bad configuration here, before anything is sent.
    checkCredentials(credentials);
    this.cacheKey = tokenCacheKey(credentials);
  }

  session(options: CallOptions = {}): Promise<Session> {
    return this.cache.get(this.cacheKey, () => this.login(), options.signal);
  }

  invalidate(session: Session): void {
    this.cache.invalidate(this.cacheKey, session.token);
  }

  private async login(): Promise<Session> {
    // Discovered once: a cloud does not drop an identity version between two logins.
    this.endpoint ??= await resolveTokenEndpoint(this.http, this.credentials.authUrl, this.credentials.identityVersion);
    return authenticate(this.http, this.credentials, this.endpoint);
  }
}
