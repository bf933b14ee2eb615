import { isRecord, OpenStackError } from './errors.js';
import type { CallOptions } from './keystone.js';
import type { ServiceConnection } from './service.js';

/** The fields of a Neutron network that this project reads; Neutron sends more. */
export interface Network {
  id: string;
  name: string;
  status: string;
  project_id?: string;
  shared?: boolean;
  'router:external'?: boolean;
}

/** Neutron, the network service (API v2.0). Only what resolving a worker's `net-name` needs. */
export class NetworkApi {
  constructor(private readonly connection: ServiceConnection) {}

  /**
   * The one network visible to the project with exactly this name (its own, shared and external
   * ones). None, or more than one, is an error: Nova would need the id anyway.
   */
  async findNetworkByName(name: string, options: CallOptions = {}): Promise<Network> {
    const response = await this.connection.request({
      operation: 'findNetworkByName',
      method: 'GET',
      url: (endpoint) => `${networkV2(endpoint)}/networks`,
      query: { name },
      signal: options.signal,
    });
    const networks = isRecord(response.body) ? response.body.networks : undefined;
    if (!Array.isArray(networks)) {
      throw new OpenStackError(
        { kind: 'invalidResponse', service: 'network', operation: 'findNetworkByName', status: response.status, requestId: response.requestId, retryable: false },
        'unexpected answer: expected a "networks" array',
      );
    }
    // Neutron's name filter is exact, but a proxy or an old plugin may ignore it: check here too.
    const matches = networks.filter((network): network is Network => isRecord(network) && network.name === name && typeof network.id === 'string');
    const [only, ...others] = matches;
    if (only === undefined) {
      throw new OpenStackError(
        { kind: 'notFound', service: 'network', operation: 'findNetworkByName', requestId: response.requestId, retryable: false },
        `no network visible to this project is named '${name}'`,
      );
    }
    if (others.length > 0) {
      throw new OpenStackError(
        { kind: 'ambiguous', service: 'network', operation: 'findNetworkByName', requestId: response.requestId, retryable: false },
        `${matches.length} networks are named '${name}' (ids ${matches.map((network) => network.id).join(', ')}); use a network id`,
      );
    }
    return only;
  }
}

/** Catalogs register Neutron unversioned ("http://host:9696"), sometimes with "/v2.0". */
function networkV2(endpoint: string): string {
  return `${endpoint.replace(/\/v2\.0$/, '')}/v2.0`;
}
