import type { RecordedRequest } from '../src/simulator/index.js';

// OpenStack calls as the simulator received them, sorted into services and kinds of call.

export type Service = 'keystone' | 'nova' | 'glance' | 'cinder' | 'neutron' | 'other';

const SERVICE_BY_PREFIX: Record<string, Service> = {
  identity: 'keystone',
  compute: 'nova',
  image: 'glance',
  volume: 'cinder',
  'block-storage': 'cinder',
  network: 'neutron',
};

/** Ids (UUIDs, hex ids, flavor numbers) become `{id}` so that calls group by kind. */
const ID_SEGMENT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|\d+)$/i;

export function serviceOf(request: RecordedRequest): Service {
  return SERVICE_BY_PREFIX[request.path.split('/')[1] ?? ''] ?? 'other';
}

/** `GET /compute/v2.1/servers/{id}`, with the list filters that change what a call is for. */
export function callKind(request: RecordedRequest): string {
  const path = request.path
    .split('/')
    .map((segment, i) => (i > 2 && ID_SEGMENT.test(segment) ? '{id}' : segment))
    .join('/');
  const filters = ['name', 'changes-since', 'status', 'uuid', 'id'].filter((key) => key in request.query);
  return `${request.method} ${path}${filters.length ? `?${filters.join('&')}` : ''}`;
}

export function isTokenRequest(request: RecordedRequest): boolean {
  return request.method === 'POST' && /^\/identity\/(v3\/auth\/tokens|v2\.0\/tokens)$/.test(request.path);
}

const SERVER_SHOW = /^\/compute\/v2(\.1)?\/servers\/([^/]+)$/;
const SERVER_LIST = /^\/compute\/v2(\.1)?\/servers(\/detail)?$/;

/**
 * A read of server status: one server (`GET /servers/{id}`), or a list that is not the create
 * step's look-up of its own server by name. Returns the server id for a single read.
 */
export function statusRead(request: RecordedRequest): { serverId?: string } | undefined {
  if (request.method !== 'GET') return undefined;
  const show = SERVER_SHOW.exec(request.path);
  if (show && show[2] !== 'detail') return { serverId: show[2] };
  if (SERVER_LIST.test(request.path) && !('name' in request.query)) return {};
  return undefined;
}

export interface BootWindow {
  serverId: string;
  /** The simulator's creation of the server. */
  from: number;
  /** When the lifecycle saw it ACTIVE: status reads go on until then. */
  to: number;
}

export interface CallCounts {
  total: number;
  byService: Record<string, number>;
  /** `METHOD path-class` to count, most frequent first. */
  byKind: Record<string, number>;
  keystoneTokenRequests: number;
  /** Status reads of booting servers per booting server per minute; see docs/benchmark.md. */
  novaStatusReadsPerBootingServerMinute: number | undefined;
  novaStatusReadsDuringBoot: number;
  bootingServerMinutes: number;
}

export function countCalls(requests: readonly RecordedRequest[], windows: readonly BootWindow[]): CallCounts {
  const byService: Record<string, number> = {};
  const kinds = new Map<string, number>();
  let keystoneTokenRequests = 0;
  for (const request of requests) {
    const service = serviceOf(request);
    byService[service] = (byService[service] ?? 0) + 1;
    const kind = `${service} ${callKind(request)}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    if (isTokenRequest(request)) keystoneTokenRequests += 1;
  }
  const { reads, minutes } = statusReadsDuringBoot(requests, windows);
  return {
    total: requests.length,
    byService,
    byKind: Object.fromEntries([...kinds].sort((a, b) => b[1] - a[1])),
    keystoneTokenRequests,
    novaStatusReadsPerBootingServerMinute: minutes > 0 ? reads / minutes : undefined,
    novaStatusReadsDuringBoot: reads,
    bootingServerMinutes: minutes,
  };
}

/**
 * A single-server read counts when it falls in that server's boot window; a list read counts once
 * when it falls in any boot window (one list may answer for every booting server: that is the point).
 */
function statusReadsDuringBoot(requests: readonly RecordedRequest[], windows: readonly BootWindow[]): { reads: number; minutes: number } {
  const byServer = new Map(windows.map((w) => [w.serverId, w]));
  const sorted = [...windows].sort((a, b) => a.from - b.from);
  // Merged intervals during which at least one server was booting.
  const busy: [number, number][] = [];
  for (const w of sorted) {
    const last = busy.at(-1);
    if (last && w.from <= last[1]) last[1] = Math.max(last[1], w.to);
    else busy.push([w.from, w.to]);
  }
  const inBusy = (at: number) => busy.some(([from, to]) => at >= from && at <= to);
  let reads = 0;
  for (const request of requests) {
    const read = statusRead(request);
    if (!read) continue;
    if (read.serverId === undefined) {
      if (inBusy(request.at)) reads += 1;
      continue;
    }
    const w = byServer.get(read.serverId);
    if (w && request.at >= w.from && request.at <= w.to) reads += 1;
  }
  const minutes = windows.reduce((sum, w) => sum + Math.max(0, w.to - w.from), 0) / 60_000;
  return { reads, minutes };
}

/** The most requests received within any `windowMs` (a sliding window over arrival times). */
export function peakRate(requests: readonly RecordedRequest[], windowMs = 1000): number {
  const times = requests.map((r) => r.at).sort((a, b) => a - b);
  let peak = 0;
  for (let end = 0, start = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start += 1;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

const SERVER_CREATE = /^\/compute\/v2(\.1)?\/servers$/;

/** The most server creates (POST /servers) in progress at the cloud at once: received and not yet answered. */
export function peakConcurrentCreates(requests: readonly RecordedRequest[]): number {
  const edges: [number, number][] = [];
  for (const r of requests) {
    if (r.method !== 'POST' || !SERVER_CREATE.test(r.path)) continue;
    edges.push([r.at, 1], [r.answeredAt ?? Number.POSITIVE_INFINITY, -1]);
  }
  // Ends before starts at the same millisecond: an answer then a new request is not an overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peak = 0;
  for (const [, step] of edges) {
    current += step;
    peak = Math.max(peak, current);
  }
  return peak;
}
