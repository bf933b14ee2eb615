import { novaFault } from './novaFaults.js';
import { isAdmin, requireToken } from './keystone.js';
import { availabilityZone } from './seed.js';
import { route, type Service, type SimRequest, type SimResponse } from './server.js';
import type { SimState, SnapshotRecord, Token, VolumeRecord } from './state.js';
import { webobError } from './webob.js';

// Cinder v3 reads (cinder/api/v3/volumes.py, snapshots.py, views), for a cloud configured with
// `blockStorage`: what sizing a boot volume from a volume or a snapshot needs. Cinder shares
// Nova's fault bodies (`itemNotFound`, ...). Its catalog URL carries no project id, as Cinder
// has allowed since 3.67; clients that add one are served too.

const created = '2025-10-01T08:00:00.000000';

function volumeView(state: SimState, v: VolumeRecord, admin: boolean) {
  return {
    id: v.id,
    name: v.name,
    status: v.status,
    size: v.size,
    availability_zone: availabilityZone,
    created_at: created,
    updated_at: created,
    attachments: [],
    description: null,
    volume_type: v.volumeType,
    snapshot_id: null,
    source_volid: null,
    metadata: {},
    links: [
      { rel: 'self', href: `${state.baseUrl}/volume/v3/${v.projectId}/volumes/${v.id}` },
      { rel: 'bookmark', href: `${state.baseUrl}/volume/${v.projectId}/volumes/${v.id}` },
    ],
    user_id: null,
    // Cinder's long-standing quirk: a string, not a boolean.
    bootable: v.bootable ? 'true' : 'false',
    encrypted: false,
    replication_status: null,
    consistencygroup_id: null,
    multiattach: false,
    ...(admin ? { 'os-vol-tenant-attr:tenant_id': v.projectId, 'os-vol-host-attr:host': 'fakecompute@lvm#lvm' } : {}),
  };
}

function snapshotView(s: SnapshotRecord) {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    size: s.size,
    volume_id: s.volumeId,
    created_at: created,
    updated_at: created,
    description: null,
    metadata: {},
  };
}

export function cinderService(state: SimState): Service {
  const visible = (token: Token, projectId: string) => isAdmin(token) || projectId === token.project.id;
  const api = (name: string, template: string, handler: (req: SimRequest, token: Token) => SimResponse) => [
    route(name, 'GET', `/volume/v3/{project_id}${template}`, (req) => handler(req, requireToken(state, req))),
    route(`${name}.noproject`, 'GET', `/volume/v3${template}`, (req) => handler(req, requireToken(state, req))),
  ];

  const routes = [
    route('cinder.versions', 'GET', '/volume/?', () => ({
      status: 300,
      json: {
        versions: [
          {
            id: 'v3.0',
            status: 'CURRENT',
            version: '3.70',
            min_version: '3.0',
            updated: '2022-08-31T00:00:00Z',
            links: [{ rel: 'self', href: `${state.baseUrl}/volume/v3/` }],
          },
        ],
      },
    })),
    ...api('cinder.volumes.show', '/volumes/{id}', (req, token) => {
      const volume = state.volumes.find((v) => v.id === req.params.id && visible(token, v.projectId));
      if (!volume) return novaFault(404, `Volume ${req.params.id} could not be found.`);
      return { status: 200, json: { volume: volumeView(state, volume, isAdmin(token)) } };
    }),
    ...api('cinder.snapshots.show', '/snapshots/{id}', (req, token) => {
      const snapshot = state.snapshots.find((s) => s.id === req.params.id && visible(token, s.projectId));
      if (!snapshot) return novaFault(404, `Snapshot ${req.params.id} could not be found.`);
      return { status: 200, json: { snapshot: snapshotView(snapshot) } };
    }),
  ];

  return {
    prefix: '/volume',
    routes,
    unmatched: (req, allowed) => {
      if (req.path.startsWith('/volume/v3/')) requireToken(state, req);
      return allowed.length > 0 ? webobError(405, req.headers.accept, undefined, { allow: allowed.join(', ') }) : webobError(404, req.headers.accept);
    },
    failed: () => novaFault(500, 'The server has either erred or is incapable of performing the requested operation.'),
    headers: () => ({ 'openstack-api-version': 'volume 3.0' }),
  };
}
