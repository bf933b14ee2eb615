import { requireToken } from './keystone.js';
import { route, type Service, type SimRequest, type SimResponse } from './server.js';
import type { SimNetwork } from './seed.js';
import type { SimState } from './state.js';

// Neutron network reads (neutron/api/v2), for a cloud configured with `network`: what resolving
// a worker's `net-name` needs. The simulator's networks are shared, so every project sees them.

const neutronError = (status: number, type: string, message: string): SimResponse => ({
  status,
  json: { NeutronError: { type, message, detail: '' } },
});

function networkView(n: SimNetwork, ownerId: string) {
  return {
    id: n.id,
    name: n.name,
    tenant_id: ownerId,
    project_id: ownerId,
    admin_state_up: true,
    mtu: 1450,
    status: 'ACTIVE',
    subnets: [],
    shared: true,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    'router:external': false,
    description: '',
    port_security_enabled: true,
    tags: [],
    created_at: '2025-10-01T08:00:00Z',
    updated_at: '2025-10-01T08:00:00Z',
    revision_number: 1,
  };
}

// Neutron filters on any attribute given, with repeated parameters meaning "any of these".
const filterable = ['id', 'name', 'status', 'shared', 'router:external'] as const;

export function neutronService(state: SimState, ownerId: string): Service {
  const api = (name: string, template: string, handler: (req: SimRequest) => SimResponse) =>
    route(name, 'GET', `/network/v2.0${template}`, (req) => {
      requireToken(state, req);
      return handler(req);
    });

  const routes = [
    route('neutron.versions', 'GET', '/network/?', () => ({
      status: 200,
      json: { versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${state.baseUrl}/network/v2.0/` }] }] },
    })),
    api('neutron.networks.list', '/networks', (req) => {
      const views = state.networks.map((n) => networkView(n, ownerId));
      const selected = views.filter((view) =>
        filterable.every((key) => {
          const wanted = req.query[key];
          if (wanted === undefined) return true;
          const values = Array.isArray(wanted) ? wanted : [wanted];
          return values.includes(String(view[key]));
        }),
      );
      return { status: 200, json: { networks: selected } };
    }),
    api('neutron.networks.show', '/networks/{id}', (req) => {
      const network = state.networks.find((n) => n.id === req.params.id);
      if (!network) return neutronError(404, 'NetworkNotFound', `Network ${req.params.id} could not be found.`);
      const view = networkView(network, ownerId);
      // `fields=` narrows the view, as the CLI and SDKs use it.
      const fields = req.query.fields === undefined ? undefined : [req.query.fields].flat();
      const shown = fields ? Object.fromEntries(Object.entries(view).filter(([k]) => fields.includes(k))) : view;
      return { status: 200, json: { network: shown } };
    }),
  ];

  return {
    prefix: '/network',
    routes,
    unmatched: (req, allowed) => {
      if (req.path.startsWith('/network/v2.0/')) requireToken(state, req);
      return allowed.length > 0
        ? neutronError(405, 'HTTPMethodNotAllowed', `${req.method} is not allowed for ${req.path}`)
        : neutronError(404, 'HTTPNotFound', `The resource could not be found.`);
    },
    failed: () => neutronError(500, 'HTTPInternalServerError', 'Request Failed: internal server error while processing your request.'),
  };
}
