// Nova's microversion negotiation (nova/api/openstack/wsgi.py, api_version_request.py,
// microversion_parse). Only major version 2 exists, so a version is its minor number.

export const minMinor = 1;
export const maxMinor = 93;

type Negotiated =
  | { ok: true; minor: number }
  // A well-formed but unsupported version is still echoed in the response headers (406);
  // a malformed one is not (400).
  | { ok: false; status: 400 | 406; message: string; headers: Record<string, string> };

function requested(headers: Readonly<Record<string, string>>): string | undefined {
  const standard = headers['openstack-api-version'];
  if (standard !== undefined) {
    for (const part of standard.split(',')) {
      const [service, version] = part.trim().split(/\s+/, 2);
      if (service?.toLowerCase() === 'compute' && version !== undefined) return version;
    }
  }
  return headers['x-openstack-nova-api-version']?.trim();
}

export function negotiate(headers: Readonly<Record<string, string>>): Negotiated {
  const version = requested(headers);
  if (version === undefined) return { ok: true, minor: minMinor };
  if (version === 'latest') return { ok: true, minor: maxMinor };
  const m = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(version);
  if (!m) {
    return {
      ok: false,
      status: 400,
      message: `API Version String ${version} is of invalid format. Must be of format MajorNum.MinorNum.`,
      headers: {},
    };
  }
  const minor = Number(m[2]);
  if (m[1] !== '2' || minor < minMinor || minor > maxMinor) {
    return {
      ok: false,
      status: 406,
      message: `Version ${version} is not supported by the API. Minimum is 2.${minMinor} and maximum is 2.${maxMinor}.`,
      headers: versionHeaders(version),
    };
  }
  return { ok: true, minor };
}

/** `version` as `2.N`. */
export function versionHeaders(version: string): Record<string, string> {
  return {
    'openstack-api-version': `compute ${version}`,
    'x-openstack-nova-api-version': version,
    vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}
