import { versionInUrl, type IdentityVersion } from './credentials.js';
import { isOpenStackError, isRecord, OpenStackError } from './errors.js';
import type { HttpClient, HttpResponse } from './http.js';

export interface TokenEndpoint {
  version: IdentityVersion;
  /** Where to POST for a token: `.../v3/auth/tokens` or `.../v2.0/tokens`. */
  url: string;
}

export function tokenEndpointAt(versionRoot: string, version: IdentityVersion): TokenEndpoint {
  const root = versionRoot.replace(/\/+$/, '');
  return { version, url: version === 'v3' ? `${root}/auth/tokens` : `${root}/tokens` };
}

/**
 * The token endpoint for an auth URL. A URL ending in `/v3` or `/v2.0` is used as it is; any other
 * is asked for its version list, as keystoneauth does, and v3 is preferred (or `wanted`, from
 * clouds.yaml `identity_api_version`). Keystone answers that list with 300 Multiple Choices;
 * some proxies and path-mounted deployments answer it with 200.
 */
export async function resolveTokenEndpoint(http: HttpClient, authUrl: string, wanted?: IdentityVersion): Promise<TokenEndpoint> {
  const base = authUrl.replace(/\/+$/, '');
  const inUrl = versionInUrl(authUrl);
  if (inUrl) return tokenEndpointAt(base, inUrl);

  let response: HttpResponse;
  try {
    response = await http.request({ service: 'identity', operation: 'discoverVersions', method: 'GET', url: base, okStatuses: [300] });
  } catch (error) {
    // A timeout or a refused connection may pass; a 4xx means this URL is not Keystone's root.
    if (!isOpenStackError(error) || error.retryable) throw error;
    const said = error.cloudMessage ? `: ${error.cloudMessage}` : '';
    throw new OpenStackError(
      { kind: error.kind, service: 'identity', operation: 'discoverVersions', method: 'GET', url: base, status: error.status, code: error.code, cloudMessage: error.cloudMessage, requestId: error.requestId, retryable: false },
      `${base} answered ${error.status ?? 'without a status'}${said}, not a list of identity versions; ${hint(base)}`,
      { cause: error },
    );
  }
  const offered = versionsOf(response.body);
  if (offered.length === 0) {
    fail(response, base, 'invalidResponse', `the answer of ${base} lists no identity versions; ${hint(base)}`);
  }
  const pick = (version: IdentityVersion) => offered.find((candidate) => candidate.version === version);
  const chosen = wanted ? pick(wanted) : (pick('v3') ?? pick('v2.0'));
  if (!chosen) {
    const ids = offered.map((candidate) => candidate.id).join(', ');
    fail(response, base, 'unsupportedVersion', `${base} offers identity ${ids}, not ${wanted ?? 'v3 or v2.0'}`);
  }
  // Keystone sends absolute links; a relative one (some proxies rewrite them) is taken from the root.
  return tokenEndpointAt(new URL(chosen.href, `${base}/`).toString(), chosen.version);
}

interface OfferedVersion {
  id: string;
  version: IdentityVersion;
  href: string;
}

/** Keystone: `{"versions": {"values": [...]}}`; other services and some proxies: `{"versions": [...]}` or `{"version": {...}}`. */
function versionsOf(body: unknown): OfferedVersion[] {
  if (!isRecord(body)) return [];
  const versions = body.versions;
  const list: unknown[] = isRecord(versions) && Array.isArray(versions.values)
    ? versions.values
    : Array.isArray(versions)
      ? versions
      : isRecord(body.version)
        ? [body.version]
        : [];
  return list.filter(isRecord).flatMap((entry) => {
    const id = typeof entry.id === 'string' ? entry.id : '';
    const version: IdentityVersion | undefined = /^v3(\.\d+)*$/.test(id) ? 'v3' : id === 'v2.0' ? 'v2.0' : undefined;
    const self = Array.isArray(entry.links) ? entry.links.find((link) => isRecord(link) && link.rel === 'self') : undefined;
    const href = isRecord(self) && typeof self.href === 'string' ? self.href : undefined;
    return version && href ? [{ id, version, href }] : [];
  });
}

function hint(base: string): string {
  return `put the identity version in the auth URL, e.g. ${base}/v3`;
}

function fail(response: HttpResponse, url: string, kind: 'invalidResponse' | 'unsupportedVersion', detail: string): never {
  throw new OpenStackError(
    { kind, service: 'identity', operation: 'discoverVersions', method: 'GET', url, status: response.status, requestId: response.requestId, retryable: false },
    detail,
  );
}
