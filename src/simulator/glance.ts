import { isAdmin } from './keystone.js';
import { wwwAuthenticate } from './keystoneErrors.js';
import { encodeQuery, lastValue, route, type Query, type Service, type SimRequest, type SimResponse } from './server.js';
import type { ImageRecord, SimState, Token } from './state.js';
import { webobError } from './webob.js';

// Glance v2 image reads (glance/api/v2/images.py): list with filters, sorting and marker
// pagination, and show. Errors are webob exceptions, so their body follows the Accept header.

const defaultLimit = 25;
const maxLimit = 1000;
const sortKeys = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'] as const;
type SortKey = (typeof sortKeys)[number];
const statuses = ['queued', 'saving', 'active', 'killed', 'deleted', 'pending_delete', 'deactivated', 'uploading', 'importing'];
const visibilities = ['public', 'private', 'shared', 'community', 'all'];

// Parameters that are not image properties; any other parameter filters on a custom property.
const reserved = new Set([
  'limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'name', 'status', 'visibility', 'tag', 'owner', 'id',
  'disk_format', 'container_format', 'protected', 'os_hidden', 'member_status', 'size_min', 'size_max',
  'checksum', 'created_at', 'updated_at',
]);

const glanceTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function imageView(image: ImageRecord): Record<string, unknown> {
  return {
    ...image.properties,
    name: image.name,
    disk_format: image.diskFormat,
    container_format: image.containerFormat,
    visibility: image.visibility,
    size: image.size,
    virtual_size: image.virtualSize,
    status: image.status,
    checksum: image.checksum,
    protected: image.protected,
    min_ram: image.minRam,
    min_disk: image.minDisk,
    owner: image.owner,
    os_hidden: image.hidden,
    os_hash_algo: image.hashValue ? 'sha512' : null,
    os_hash_value: image.hashValue,
    id: image.id,
    created_at: glanceTime(image.createdAt),
    updated_at: glanceTime(image.updatedAt),
    tags: [...image.tags],
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: '/v2/schemas/image',
    // A multi-store Glance (enabled_backends, as the real test cloud runs) names the stores that
    // hold an image's data.
    ...(image.size === null ? {} : { stores: 'file' }),
  };
}

/** Visible at all: what GET /v2/images/{id} may show. */
function canSee(image: ImageRecord, token: Token): boolean {
  return image.visibility === 'public' || image.visibility === 'community' || image.owner === token.project.id || isAdmin(token);
}

function sortValue(image: ImageRecord, key: SortKey): string | number | null {
  switch (key) {
    case 'name':
      return image.name;
    case 'status':
      return image.status;
    case 'container_format':
      return image.containerFormat;
    case 'disk_format':
      return image.diskFormat;
    case 'size':
      return image.size;
    case 'id':
      return image.id;
    case 'created_at':
      return image.createdAt.getTime();
    case 'updated_at':
      return image.updatedAt.getTime();
  }
}

// MySQL orders NULL before any value.
function compare(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

export function glanceService(state: SimState): Service {
  const error = (req: SimRequest, status: number, explanation?: string): SimResponse =>
    webobError(status, req.headers.accept, explanation);
  const bad = (req: SimRequest, explanation: string) => ({ error: error(req, 400, explanation) });

  function sortSpec(req: SimRequest): { keys: SortKey[]; dirs: ('asc' | 'desc')[] } | { error: SimResponse } {
    const q = req.query;
    const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const checkKey = (key: string): key is SortKey => (sortKeys as readonly string[]).includes(key);
    const keys: SortKey[] = [];
    const dirs: ('asc' | 'desc')[] = [];
    if (q.sort !== undefined) {
      if (q.sort_key !== undefined || q.sort_dir !== undefined) {
        return bad(req, 'The `sort` parameter is not compatible with `sort_key` and `sort_dir` parameters.');
      }
      for (const part of (lastValue(q.sort) ?? '').split(',')) {
        const [key = '', dir = 'desc'] = part.trim().split(':');
        if (!checkKey(key)) return bad(req, `Invalid sort key: ${key}. It must be one of the following: ${sortKeys.join(', ')}.`);
        if (dir !== 'asc' && dir !== 'desc') return bad(req, `Invalid sort direction: ${dir}`);
        keys.push(key);
        dirs.push(dir);
      }
      return { keys, dirs };
    }
    for (const key of list(q.sort_key)) {
      if (!checkKey(key)) return bad(req, `Invalid sort key: ${key}. It must be one of the following: ${sortKeys.join(', ')}.`);
      keys.push(key);
    }
    for (const dir of list(q.sort_dir)) {
      if (dir !== 'asc' && dir !== 'desc') return bad(req, `Invalid sort direction: ${dir}`);
      dirs.push(dir);
    }
    if (dirs.length > 1 && dirs.length !== keys.length) {
      return bad(req, 'Number of sort dirs does not match the number of sort keys');
    }
    if (keys.length === 0) keys.push('created_at');
    const fill = dirs[0] ?? 'desc';
    return { keys, dirs: keys.map((_, i) => dirs[i] ?? fill) };
  }

  // Glance's `in:` operator: `name=in:a,b` matches either value.
  const oneOf = (filter: string, value: string | null): boolean =>
    filter.startsWith('in:') ? filter.slice(3).split(',').includes(value ?? '') : filter === value;

  function listImages(req: SimRequest, token: Token): SimResponse {
    const q = req.query;
    const rawLimit = lastValue(q.limit);
    let limit = defaultLimit;
    if (rawLimit !== undefined) {
      if (!/^-?\d+$/.test(rawLimit.trim())) return error(req, 400, 'limit param must be an integer');
      limit = Number(rawLimit);
      if (limit < 0) return error(req, 400, 'limit param must be positive');
      limit = Math.min(limit, maxLimit);
    }
    const status = lastValue(q.status);
    if (status !== undefined && !status.startsWith('in:') && !statuses.includes(status)) {
      return error(req, 400, `Invalid status value: ${status}`);
    }
    const visibility = lastValue(q.visibility);
    if (visibility !== undefined && !visibilities.includes(visibility)) {
      return error(req, 400, `Invalid visibility value: ${visibility}`);
    }
    const sort = sortSpec(req);
    if ('error' in sort) return sort.error;

    const filters: ((i: ImageRecord) => boolean)[] = [(i) => canSee(i, token)];
    // Community images of other projects are listed only when asked for.
    if (visibility === undefined) filters.push((i) => i.visibility !== 'community' || i.owner === token.project.id);
    else if (visibility !== 'all') filters.push((i) => i.visibility === visibility);
    const hidden = lastValue(q.os_hidden);
    filters.push((i) => i.hidden === (hidden?.toLowerCase() === 'true'));
    const single = (name: string, get: (i: ImageRecord) => string | null) => {
      const value = lastValue(q[name]);
      if (value !== undefined) filters.push((i) => oneOf(value, get(i)));
    };
    single('name', (i) => i.name);
    single('status', (i) => i.status);
    single('id', (i) => i.id);
    single('owner', (i) => i.owner);
    single('disk_format', (i) => i.diskFormat);
    single('container_format', (i) => i.containerFormat);
    const protectedFilter = lastValue(q.protected);
    if (protectedFilter !== undefined) filters.push((i) => String(i.protected) === protectedFilter.toLowerCase());
    const tags = q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag];
    if (tags.length > 0) filters.push((i) => tags.every((t) => i.tags.includes(t)));
    for (const [key, value] of Object.entries(q)) {
      if (reserved.has(key)) continue;
      const wanted = lastValue(value);
      filters.push((i) => i.properties[key] === wanted);
    }

    // created_at and id always end the sort so that marker paging is stable; they take the one
    // sort_dir given, else desc.
    const keys: SortKey[] = [...sort.keys];
    const dirs = [...sort.dirs];
    const tieDir = q.sort_dir === 'asc' ? 'asc' : 'desc';
    for (const tie of ['created_at', 'id'] as const) {
      if (!keys.includes(tie)) {
        keys.push(tie);
        dirs.push(tieDir);
      }
    }
    const order = (a: ImageRecord, b: ImageRecord): number => {
      for (const [i, key] of keys.entries()) {
        const c = compare(sortValue(a, key), sortValue(b, key));
        if (c !== 0) return dirs[i] === 'asc' ? c : -c;
      }
      return 0;
    };
    let images = state.images.filter((i) => filters.every((f) => f(i))).sort(order);

    const marker = lastValue(q.marker);
    if (marker !== undefined) {
      const markerImage = state.images.find((i) => i.id === marker && canSee(i, token));
      if (!markerImage) return error(req, 400, `No image found with ID ${marker}`);
      images = images.filter((i) => order(markerImage, i) < 0);
    }
    const page = images.slice(0, limit);

    // Glance rebuilds its links from the request parameters, one value per name.
    const params: Query = Object.fromEntries(Object.entries(q).map(([k, v]) => [k, lastValue(v) ?? '']));
    delete params.marker;
    const query = encodeQuery(params);
    const body: Record<string, unknown> = {
      images: page.map(imageView),
      first: query ? `/v2/images?${query}` : '/v2/images',
      schema: '/v2/schemas/images',
    };
    const last = page.at(-1);
    if (last && page.length === limit) body.next = `/v2/images?${encodeQuery({ ...params, marker: last.id })}`;
    return { status: 200, json: body };
  }

  const versions = () => {
    const minors = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
    return {
      versions: minors.map((minor, i) => ({
        id: `v2.${minor}`,
        status: i === 0 ? 'CURRENT' : 'SUPPORTED',
        links: [{ rel: 'self', href: `${state.baseUrl}/image/v2/` }],
      })),
    };
  };

  // Glance's own context middleware turns a missing or bad token into a webob 401, so the body
  // follows the Accept header like every other Glance error (Nova answers Keystone's JSON).
  const authenticated = (req: SimRequest): Token | SimResponse =>
    state.validToken(req.headers['x-auth-token']) ?? webobError(401, req.headers.accept, undefined, wwwAuthenticate(state));

  const api = (name: string, template: string, handler: (req: SimRequest, token: Token) => SimResponse) =>
    route(name, 'GET', `/image/v2${template}`, (req) => {
      const token = authenticated(req);
      return 'status' in token ? token : handler(req, token);
    });

  const routes = [
    route('glance.versions', 'GET', '/image/?', () => ({ status: 300, json: versions() })),
    route('glance.versions.list', 'GET', '/image/versions', () => ({ status: 200, json: versions() })),
    api('glance.images.list', '/images', listImages),
    api('glance.images.show', '/images/{id}', (req, token) => {
      const id = req.params.id ?? '';
      const image = state.images.find((i) => i.id === id && canSee(i, token));
      if (!image) return error(req, 404, `No image found with ID ${id}`);
      return { status: 200, json: imageView(image) };
    }),
  ];

  return {
    prefix: '/image',
    routes,
    unmatched: (req, allowed) => {
      if (req.path.startsWith('/image/v2/')) {
        const token = authenticated(req);
        if ('status' in token) return token;
      }
      return allowed.length > 0
        ? webobError(405, req.headers.accept, undefined, { allow: allowed.join(', ') })
        : webobError(404, req.headers.accept);
    },
    failed: (req) => webobError(500, req.headers.accept),
  };
}
