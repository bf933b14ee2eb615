import { OpenStackError } from './errors.js';

/** `2.N` or `latest`; `2.latest` looks plausible but Nova refuses it with a 400. */
export function checkMicroversion(microversion: string): string {
  if (!/^(\d+\.\d+|latest)$/.test(microversion)) {
    throw new RangeError(`microversion '${microversion}' is not of the form '2.N' or 'latest'`);
  }
  return microversion;
}

export interface ClientVersion {
  /** The compute microversion to send, or undefined for the base API (2.1) with no version header. */
  microversion: string | undefined;
  /** Something the operator should change, for the caller to log; undefined when all is well. */
  warning: string | undefined;
}

/**
 * Buildbot's `client_version`: '1.1' (novaclient's long-gone v1.1 API, deprecated there too) and
 * '2' both mean the base API; '2.N' asks for that microversion.
 */
export function parseClientVersion(clientVersion: string): ClientVersion {
  if (clientVersion === '1.1') {
    return {
      microversion: undefined,
      warning: "client_version '1.1' is deprecated: it is served by the base compute API 2.1; set client_version '2', or '2.N' for a microversion",
    };
  }
  if (clientVersion === '2') return { microversion: undefined, warning: undefined };
  if (/^2\.\d+$/.test(clientVersion)) return { microversion: clientVersion, warning: undefined };
  throw new RangeError(`client_version '${clientVersion}' must be '1.1' (deprecated), '2' or '2.N'`);
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b` (both `X.Y`). */
export function compareMicroversions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/**
 * Whether requests sent with `microversion` (undefined: the base 2.1) get a feature added in
 * `since`. `latest` is assumed to: the cloud picks its newest, and Nova refuses what it lacks.
 */
export function microversionAtLeast(microversion: string | undefined, since: string): boolean {
  if (microversion === 'latest') return true;
  return compareMicroversions(microversion ?? '2.1', since) >= 0;
}

/** Refuses, before anything is sent, a feature that the client's microversion does not carry. */
export function requireMicroversion(microversion: string | undefined, since: string, feature: string, operation: string): void {
  if (microversionAtLeast(microversion, since)) return;
  throw new OpenStackError(
    { kind: 'unsupportedVersion', service: 'compute', operation, retryable: false },
    `${feature} need compute microversion ${since} or later, and this client sends ${microversion ?? 'none (the base API 2.1)'}; set client_version to '${since}' or later`,
  );
}
