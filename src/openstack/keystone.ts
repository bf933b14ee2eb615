import { inspect } from 'node:util';
import { catalogFromV2, catalogFromV3, type Catalog, type EndpointInterface } from './catalog.js';
import { header, isRecord, OpenStackError } from './errors.js';
import type { HttpClient, HttpResponse } from './http.js';

export interface CloudCredentials {
  authUrl: string;
  username: string;
  password: string;
  /** Identity v3 only: authenticate by user id instead of name and domain. */
  userId?: string;
  projectName?: string;
  projectId?: string;
  /** Defaults to `Default` when neither the name nor the id is given. */
  userDomainName?: string;
  userDomainId?: string;
  /** Defaults to `Default` when neither the name nor the id is given. */
  projectDomainName?: string;
  projectDomainId?: string;
  regionName?: string;
  interface?: EndpointInterface;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export type IdentityVersion = 'v3' | 'v2.0';

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

export interface TokenEndpoint {
  version: IdentityVersion;
  url: string;
}

/**
 * The auth URL's version suffix picks the API; without one we assume v3 at `{authUrl}/v3`
 * (Keystone has served v3 since Grizzly; version discovery is not done yet).
 */
export function tokenEndpoint(authUrl: string): TokenEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(authUrl);
  } catch {
    throw new RangeError(`authUrl '${authUrl}' is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RangeError(`authUrl '${authUrl}' must be an http or https URL`);
  }
  const base = authUrl.replace(/\/+$/, '');
  if (/\/v3$/.test(base)) return { version: 'v3', url: `${base}/auth/tokens` };
  if (/\/v2\.0$/.test(base)) return { version: 'v2.0', url: `${base}/tokens` };
  if (/\/v\d+(\.\d+)?$/.test(base)) {
    throw new RangeError(`authUrl '${authUrl}' names an identity API version other than v3 or v2.0`);
  }
  return { version: 'v3', url: `${base}/v3/auth/tokens` };
}

/** Throws a RangeError naming the setting that cannot work. */
export function checkCredentials(credentials: CloudCredentials): TokenEndpoint {
  const endpoint = tokenEndpoint(credentials.authUrl);
  if (endpoint.version === 'v2.0' && credentials.userId) {
    throw new RangeError('userId needs identity v3; identity v2.0 authenticates by username');
  }
  // Servers live in projects: an unscoped token has no catalog to find Nova with.
  if (!credentials.projectId && !credentials.projectName) {
    throw new RangeError('a project scope is required: set projectName (with its domain) or projectId');
  }
  return endpoint;
}

/**
 * One password authentication against Keystone. Prefer `Authenticator`, which caches; its shared
 * login takes no caller's signal, so neither does this (the HTTP deadline still applies).
 */
export async function passwordAuth(http: HttpClient, credentials: CloudCredentials): Promise<Session> {
  const endpoint = checkCredentials(credentials);
  const response = await http.request({
    service: 'identity',
    operation: 'authenticate',
    method: 'POST',
    url: endpoint.url,
    json: endpoint.version === 'v3' ? v3Body(credentials) : v2Body(credentials),
    secrets: [credentials.password],
  });
  return endpoint.version === 'v3' ? v3Session(endpoint.url, response) : v2Session(endpoint.url, response);
}

function v3Body(credentials: CloudCredentials): unknown {
  const user = credentials.userId
    ? { id: credentials.userId, password: credentials.password }
    : { name: credentials.username, domain: domainRef(credentials.userDomainId, credentials.userDomainName), password: credentials.password };
  const project = credentials.projectId
    ? { id: credentials.projectId }
    : { name: credentials.projectName, domain: domainRef(credentials.projectDomainId, credentials.projectDomainName) };
  return { auth: { identity: { methods: ['password'], password: { user } }, scope: { project } } };
}

function domainRef(id: string | undefined, name: string | undefined): { id: string } | { name: string } {
  return id ? { id } : { name: name ?? 'Default' };
}

function v2Body(credentials: CloudCredentials): unknown {
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

/** Cache key: one token per cloud, user and scope. It names no secret. */
export function tokenCacheKey(credentials: CloudCredentials): string {
  const user = credentials.userId
    ? `user-id:${credentials.userId}`
    : `user:${credentials.userDomainId ?? credentials.userDomainName ?? 'Default'}/${credentials.username}`;
  const scope = credentials.projectId
    ? `project-id:${credentials.projectId}`
    : `project:${credentials.projectDomainId ?? credentials.projectDomainName ?? 'Default'}/${credentials.projectName}`;
  return `${credentials.authUrl.replace(/\/+$/, '')} ${user} ${scope}`;
}

export interface TokenCacheOptions {
  /** Re-authenticate this long before expiry (default 5 minutes, at most half the token's lifetime). */
  refreshMarginMs?: number;
  now?: () => number;
}

interface CacheEntry {
  session?: Session;
  obtainedAt?: number;
  pending?: Promise<Session>;
}

/**
 * In-process token cache. Concurrent callers for one key share a single authentication, so a
 * burst of activities after a restart sends Keystone one request, not one per activity.
 */
export class TokenCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly refreshMarginMs: number;
  private readonly now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * A fresh session for `key`, from the cache or from `login`. The shared login runs without
   * any one caller's signal (cancelling one caller must not fail the others); `signal` only
   * stops this caller's wait.
   */
  async get(key: string, login: () => Promise<Session>, signal?: AbortSignal): Promise<Session> {
    signal?.throwIfAborted();
    let entry = this.entries.get(key);
    if (entry?.session && entry.obtainedAt !== undefined && this.isFresh(entry.session, entry.obtainedAt)) return entry.session;
    if (!entry) {
      entry = {};
      this.entries.set(key, entry);
    }
    const current = entry;
    current.pending ??= login()
      .then((session) => {
        current.session = session;
        current.obtainedAt = this.now();
        return session;
      })
      .finally(() => {
        current.pending = undefined;
      });
    return abortable(current.pending, signal);
  }

  /**
   * Forget `token` after a service rejected it. Only that token: another caller may already have
   * replaced it with a new one, which must survive.
   */
  invalidate(key: string, token: string): void {
    const entry = this.entries.get(key);
    if (entry?.session?.token === token) {
      entry.session = undefined;
      entry.obtainedAt = undefined;
    }
  }

  clear(): void {
    this.entries.clear();
  }

  private isFresh(session: Session, obtainedAt: number): boolean {
    const expiresAt = session.expiresAt.getTime();
    const margin = Math.min(this.refreshMarginMs, (expiresAt - obtainedAt) / 2);
    return this.now() < expiresAt - margin;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Authentication for one set of credentials, through a (possibly shared) token cache. */
export class Authenticator {
  readonly cacheKey: string;

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
    return this.cache.get(this.cacheKey, () => passwordAuth(this.http, this.credentials), options.signal);
  }

  invalidate(session: Session): void {
    this.cache.invalidate(this.cacheKey, session.token);
  }
}
