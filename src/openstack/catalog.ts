import { isRecord, OpenStackError, type OpenStackService } from './errors.js';

export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface CatalogEndpoint {
  interface: EndpointInterface;
  region: string | undefined;
  url: string;
}

export interface CatalogEntry {
  type: string;
  name: string | undefined;
  endpoints: CatalogEndpoint[];
}

export type Catalog = readonly CatalogEntry[];

/** Official service types with the older names clouds still register (service-types-authority). */
const SERVICE_TYPES: Record<OpenStackService, readonly string[]> = {
  identity: ['identity'],
  compute: ['compute'],
  image: ['image'],
  'block-storage': ['block-storage', 'volumev3', 'volumev2', 'volume', 'block-store'],
  network: ['network'],
};

export type ServiceType = OpenStackService | 'volumev3' | 'volumev2' | 'volume';

export interface EndpointQuery {
  interface?: EndpointInterface;
  /** Without a region, the first endpoint of the wanted interface wins, as in keystoneauth. */
  region?: string;
}

/** The endpoint URL, without a trailing slash. */
export function endpointFor(catalog: Catalog, serviceType: ServiceType, query: EndpointQuery = {}): string {
  const wantedInterface = query.interface ?? 'public';
  const service = canonicalService(serviceType);
  // The asked-for name first, so a catalog with both volumev3 and block-storage honours the caller.
  const types = [serviceType, ...SERVICE_TYPES[service].filter((type) => type !== serviceType)];
  for (const type of types) {
    for (const entry of catalog.filter((candidate) => candidate.type === type)) {
      const endpoint = entry.endpoints.find(
        (candidate) =>
          candidate.interface === wantedInterface && (query.region === undefined || candidate.region === query.region),
      );
      if (endpoint) return endpoint.url.replace(/\/+$/, '');
    }
  }
  const region = query.region === undefined ? '' : ` in region '${query.region}'`;
  return notFound(service, `no ${wantedInterface} endpoint for service type '${serviceType}'${region}; the catalog has ${describe(catalog)}`);
}

function notFound(service: OpenStackService, detail: string): never {
  throw new OpenStackError({ kind: 'endpointNotFound', service, operation: 'endpoint lookup', retryable: false }, detail);
}

function canonicalService(serviceType: ServiceType): OpenStackService {
  for (const [service, types] of Object.entries(SERVICE_TYPES) as [OpenStackService, readonly string[]][]) {
    if (types.includes(serviceType)) return service;
  }
  throw new RangeError(`unknown service type '${serviceType}'`);
}

function describe(catalog: Catalog): string {
  if (catalog.length === 0) return 'no services at all';
  return catalog
    .map((entry) => {
      const endpoints = entry.endpoints.map((endpoint) => `${endpoint.interface}@${endpoint.region ?? 'any region'}`);
      return `${entry.type} (${endpoints.join(', ') || 'no endpoints'})`;
    })
    .join('; ');
}

/** Keystone v3: `token.catalog[] = {type, name, endpoints: [{interface, region_id, url}]}`. */
export function catalogFromV3(raw: unknown): CatalogEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).map((entry) => ({
    type: String(entry.type),
    name: typeof entry.name === 'string' ? entry.name : undefined,
    endpoints: (Array.isArray(entry.endpoints) ? entry.endpoints : []).filter(isRecord).flatMap((endpoint) => {
      const iface = endpoint.interface;
      if (typeof endpoint.url !== 'string' || !isInterface(iface)) return [];
      const region = typeof endpoint.region_id === 'string' ? endpoint.region_id : endpoint.region;
      return [{ interface: iface, region: typeof region === 'string' ? region : undefined, url: endpoint.url }];
    }),
  }));
}

const V2_URL_KEYS: readonly [string, EndpointInterface][] = [
  ['publicURL', 'public'],
  ['internalURL', 'internal'],
  ['adminURL', 'admin'],
];

/** Keystone v2.0: `access.serviceCatalog[] = {type, name, endpoints: [{region, publicURL, internalURL, adminURL}]}`. */
export function catalogFromV2(raw: unknown): CatalogEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).map((entry) => ({
    type: String(entry.type),
    name: typeof entry.name === 'string' ? entry.name : undefined,
    endpoints: (Array.isArray(entry.endpoints) ? entry.endpoints : []).filter(isRecord).flatMap((endpoint) =>
      V2_URL_KEYS.flatMap(([key, iface]) => {
        const url = endpoint[key];
        if (typeof url !== 'string') return [];
        return [{ interface: iface, region: typeof endpoint.region === 'string' ? endpoint.region : undefined, url }];
      }),
    ),
  }));
}

function isInterface(value: unknown): value is EndpointInterface {
  return value === 'public' || value === 'internal' || value === 'admin';
}
