import { createHmac, randomBytes } from 'node:crypto';
import type { EndpointInterface } from './catalog.js';

export type IdentityVersion = 'v3' | 'v2.0';

/** Where a cloud is and how to talk to it. Nothing here is secret. */
export interface CloudConnection {
  authUrl: string;
  /** The identity API to use when `authUrl` names no version; without it, the version is discovered. */
  identityVersion?: IdentityVersion;
  regionName?: string;
  interface?: EndpointInterface;
  /** Path of a PEM bundle trusted instead of Node's bundled CAs (clouds.yaml `cacert`, `OS_CACERT`). */
  cacert?: string;
  /** Accept any TLS certificate (clouds.yaml `verify: false`). */
  insecure?: boolean;
  /** Per-call timeout for this cloud (clouds.yaml `api_timeout`, here in milliseconds). */
  apiTimeoutMs?: number;
}

export interface ProjectScope {
  projectName?: string;
  projectId?: string;
  /** Defaults to `Default` when neither the name nor the id is given. */
  projectDomainName?: string;
  projectDomainId?: string;
}

export interface UserRef {
  username?: string;
  /** Identity v3 only: the user by id instead of by name and domain. */
  userId?: string;
  /** Defaults to `Default` when neither the name nor the id is given. */
  userDomainName?: string;
  userDomainId?: string;
}

export interface PasswordCredentials extends CloudConnection, ProjectScope, UserRef {
  /** Optional: a plain `{authUrl, username, password, projectName}` means password authentication. */
  authType?: 'password';
  password: string;
}

/** Keystone v3 application credential. It carries its own project scope, so none is sent. */
export interface ApplicationCredentialCredentials extends CloudConnection, UserRef {
  authType: 'v3applicationcredential';
  applicationCredentialId?: string;
  /** Needs the owning user (id, or name and domain) when no id is given. */
  applicationCredentialName?: string;
  applicationCredentialSecret: string;
}

/** An existing Keystone v3 token (e.g. `OS_TOKEN`), exchanged for one scoped to the project. */
export interface TokenCredentials extends CloudConnection, ProjectScope {
  authType: 'v3token';
  token: string;
}

export type CloudCredentials = PasswordCredentials | ApplicationCredentialCredentials | TokenCredentials;
export type AuthType = NonNullable<CloudCredentials['authType']>;

/** The values that must never appear in an error, a log line or workflow history. */
export function secretsOf(credentials: CloudCredentials): string[] {
  switch (credentials.authType) {
    case 'v3applicationcredential':
      return [credentials.applicationCredentialSecret];
    case 'v3token':
      return [credentials.token];
    default:
      return [credentials.password];
  }
}

/**
 * The identity version named by the auth URL's last path segment, if any. Throws a RangeError
 * for a URL no request could use.
 */
export function versionInUrl(authUrl: string): IdentityVersion | undefined {
  let parsed: URL;
  try {
    parsed = new URL(authUrl);
  } catch {
    throw new RangeError(`authUrl '${authUrl}' is not a valid URL`);
  }
  if (parsed.username || parsed.password) {
    // It would be repeated in every error, log line and cloud label; Keystone never reads it anyway.
    throw new RangeError(`authUrl ${parsed.protocol}//${parsed.host}${parsed.pathname} carries a user name or password; give credentials as username and password instead`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RangeError(`authUrl '${authUrl}' must be an http or https URL`);
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  if (/\/v3$/.test(path)) return 'v3';
  if (/\/v2\.0$/.test(path)) return 'v2.0';
  if (/\/v\d+(\.\d+)?$/.test(path)) {
    throw new RangeError(`authUrl '${authUrl}' names an identity API version other than v3 or v2.0`);
  }
  return undefined;
}

/** Why these credentials cannot work against Keystone v2.0, or undefined if they can. */
export function v2Problem(credentials: CloudCredentials): string | undefined {
  if (credentials.authType === 'v3applicationcredential') return 'application credentials need identity v3';
  if (credentials.authType === 'v3token') return 'token authentication (v3token) needs identity v3';
  if (credentials.userId) return 'userId needs identity v3; identity v2.0 authenticates by username';
  return undefined;
}

/** Throws a RangeError naming the setting that cannot work, before anything is sent. */
export function checkCredentials(credentials: CloudCredentials): void {
  const inUrl = versionInUrl(credentials.authUrl);
  if (inUrl && credentials.identityVersion && inUrl !== credentials.identityVersion) {
    throw new RangeError(`authUrl '${credentials.authUrl}' names identity ${inUrl}, but identityVersion is ${credentials.identityVersion}`);
  }
  const problem = (inUrl ?? credentials.identityVersion) === 'v2.0' ? v2Problem(credentials) : undefined;
  if (problem) throw new RangeError(problem);
  switch (credentials.authType) {
    case 'v3applicationcredential':
      if (!credentials.applicationCredentialSecret) throw new RangeError('applicationCredentialSecret is required');
      if (!credentials.applicationCredentialId && !credentials.applicationCredentialName) {
        throw new RangeError('an application credential needs applicationCredentialId, or applicationCredentialName with its user');
      }
      if (!credentials.applicationCredentialId && !credentials.userId && !credentials.username) {
        throw new RangeError('an application credential given by name needs its user: set userId, or username (with its domain)');
      }
      return;
    case 'v3token':
      if (!credentials.token) throw new RangeError('token is required');
      return requireProject(credentials);
    default:
      if (!credentials.userId && !credentials.username) throw new RangeError('a user is required: set username (with its domain) or userId');
      return requireProject(credentials);
  }
}

function requireProject(scope: ProjectScope): void {
  // Servers live in projects: an unscoped token has no catalog to find Nova with.
  if (!scope.projectId && !scope.projectName) {
    throw new RangeError('a project scope is required: set projectName (with its domain) or projectId');
  }
}

/**
 * Cache key: one token per cloud, identity, scope and secret. The secret counts because two
 * definitions of the same user may disagree on it (one of them mistyped): the wrong one must fail
 * on its own rather than borrow, or spoil, the other's session. It is kept as a keyed hash, so
 * the key names no secret and cannot be checked against guesses outside this process.
 */
export function tokenCacheKey(credentials: CloudCredentials): string {
  const cloud = credentials.authUrl.replace(/\/+$/, '');
  switch (credentials.authType) {
    case 'v3applicationcredential': {
      const credential = credentials.applicationCredentialId
        ? `application-credential-id:${credentials.applicationCredentialId}`
        : `application-credential:${userKey(credentials)}/${credentials.applicationCredentialName}`;
      return `${cloud} ${credential} secret:${fingerprint(credentials.applicationCredentialSecret)}`;
    }
    case 'v3token':
      return `${cloud} token:${fingerprint(credentials.token)} ${scopeKey(credentials)}`;
    default:
      return `${cloud} ${userKey(credentials)} ${scopeKey(credentials)} secret:${fingerprint(credentials.password)}`;
  }
}

const fingerprintKey = randomBytes(32);

function fingerprint(secret: string): string {
  return createHmac('sha256', fingerprintKey).update(secret).digest('hex').slice(0, 32);
}

function userKey(user: UserRef): string {
  return user.userId ? `user-id:${user.userId}` : `user:${user.userDomainId ?? user.userDomainName ?? 'Default'}/${user.username}`;
}

function scopeKey(scope: ProjectScope): string {
  return scope.projectId
    ? `project-id:${scope.projectId}`
    : `project:${scope.projectDomainId ?? scope.projectDomainName ?? 'Default'}/${scope.projectName}`;
}
