import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Query = Record<string, string | string[]>;

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/compute/v2.1/servers`. */
  path: string;
  query: Query;
  /** Header names lower-cased; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Parsed JSON; the raw text when it is not JSON; undefined when there was no body. */
  body: unknown;
  /** Epoch milliseconds when the request was fully received. */
  at: number;
  /** Epoch milliseconds when the answer was sent; absent while in progress or when the client went away first. */
  answeredAt?: number;
}

export type RequestBody =
  | { kind: 'empty' }
  | { kind: 'json'; value: unknown }
  | { kind: 'malformed'; text: string };

export interface SimRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Query;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: RequestBody;
  readonly requestId: string;
  /** Decoded path parameters of the matched route. */
  readonly params: Readonly<Record<string, string>>;
  /** Aborted when the client goes away before the answer is sent. */
  readonly signal: AbortSignal;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialized as application/json unless `text` is set. */
  json?: unknown;
  /** A non-JSON body; the caller sets its content-type header. */
  text?: string;
  /** Close the connection without answering: the request was handled, its response is lost. */
  dropConnection?: boolean;
}

/** Thrown by handlers to answer with a ready response (an OpenStack-shaped error). */
export class HttpError extends Error {
  constructor(readonly response: SimResponse) {
    super(`HTTP ${response.status}`);
  }
}

export interface Route {
  /** Stable name (`nova.servers.create`), the key for per-route behaviour such as fault injection. */
  readonly name: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly keys: readonly string[];
  readonly handle: (req: SimRequest) => SimResponse;
}

/**
 * `template` is a literal path with `{param}` segments; a trailing `/?` makes the final slash
 * optional (OpenStack version documents answer with and without it).
 */
export function route(name: string, method: string, template: string, handle: (req: SimRequest) => SimResponse): Route {
  const optionalSlash = template.endsWith('/?');
  const body = optionalSlash ? template.slice(0, -2) : template;
  const keys: string[] = [];
  const source = body
    .split(/(\{[a-z_]+\})/i)
    .map((part) => {
      const param = /^\{([a-z_]+)\}$/i.exec(part);
      if (param?.[1]) {
        keys.push(param[1]);
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { name, method, keys, handle, pattern: new RegExp(`^${source}${optionalSlash ? '/?' : ''}$`) };
}

/** One OpenStack service mounted under a path prefix, like devstack's `/compute`, `/image`. */
export interface Service {
  readonly prefix: string;
  readonly routes: readonly Route[];
  /** No route matched; `allowed` lists the methods of routes whose path did match. */
  unmatched(req: SimRequest, allowed: readonly string[]): SimResponse;
  /** A handler threw something other than HttpError: answer like the service's 500. */
  failed(req: SimRequest, error: unknown): SimResponse;
  /** Headers this service adds to every response (e.g. Nova's x-compute-request-id). */
  headers?(req: SimRequest): Record<string, string>;
}

/**
 * Wraps every matched route: `next` runs the route's handler. Fault injection uses it to delay,
 * hang, replace or drop a route's answer.
 */
export type RouteInterceptor = (route: Route, req: SimRequest, next: () => Promise<SimResponse>) => Promise<SimResponse>;

const passThrough: RouteInterceptor = (_route, _req, next) => next();

async function dispatch(services: readonly Service[], intercept: RouteInterceptor, req: SimRequest): Promise<SimResponse> {
  const service = services.find((s) => req.path === s.prefix || req.path.startsWith(`${s.prefix}/`));
  if (!service) {
    return { status: 404, json: { error: { code: 404, title: 'Not Found', message: 'The resource could not be found.' } } };
  }
  const withService = (res: SimResponse): SimResponse => ({
    ...res,
    headers: { ...service.headers?.(req), ...res.headers },
  });
  const allowed: string[] = [];
  try {
    for (const r of service.routes) {
      const match = r.pattern.exec(req.path);
      if (!match) continue;
      if (r.method !== req.method) {
        allowed.push(r.method);
        continue;
      }
      const params = Object.fromEntries(r.keys.map((key, i) => [key, decodeURIComponent(match[i + 1] ?? '')]));
      const matched = { ...req, params };
      return withService(await intercept(r, matched, () => Promise.resolve(r.handle(matched))));
    }
    return withService(service.unmatched(req, allowed));
  } catch (error) {
    if (error instanceof HttpError) return withService(error.response);
    return withService(service.failed(req, error));
  }
}

function parseQuery(search: URLSearchParams): Query {
  const query: Query = {};
  for (const [key, value] of search) {
    const prev = query[key];
    query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return query;
}

function flattenHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return { kind: 'empty' };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'malformed', text };
  }
}

function send(res: ServerResponse, requestId: string, response: SimResponse): void {
  if (response.dropConnection) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'x-openstack-request-id': requestId, ...response.headers };
  let payload: string | undefined;
  if (response.text !== undefined) {
    payload = response.text;
  } else if (response.json !== undefined) {
    payload = JSON.stringify(response.json);
    headers['content-type'] ??= 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  else if (response.status !== 204) headers['content-length'] = '0';
  res.writeHead(response.status, headers);
  res.end(payload);
}

export interface HttpFront {
  readonly url: string;
  mount(services: readonly Service[], intercept?: RouteInterceptor): void;
  close(): Promise<void>;
}

/**
 * Listens first and takes its services afterwards: the services need the final URL (port 0
 * picks one) for their catalog entries and links.
 */
export async function listen(host: string, port: number, record: (r: RecordedRequest) => void): Promise<HttpFront> {
  let services: readonly Service[] = [];
  let interceptor = passThrough;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const headers = flattenHeaders(req.headers);
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const query = parseQuery(url.searchParams);
    const recorded: RecordedRequest = {
      method,
      path: url.pathname,
      query,
      headers,
      body: body.kind === 'json' ? body.value : body.kind === 'malformed' ? body.text : undefined,
      at: Date.now(),
    };
    record(recorded);
    const requestId = `req-${randomUUID()}`;
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const simReq: SimRequest = { method, path: url.pathname, query, headers, body, requestId, params: {}, signal: gone.signal };
    const response = await dispatch(services, interceptor, simReq);
    if (!res.destroyed) {
      send(res, requestId, response);
      // What was in progress when (e.g. concurrent creates) is read from this.
      recorded.answeredAt = Date.now();
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Only reachable when the client vanished mid-request; nothing left to answer.
      res.destroy(error instanceof Error ? error : undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    mount(next, intercept = passThrough) {
      services = next;
      interceptor = intercept;
    },
    // Idempotent, so that a harness may close in both a test and its afterAll.
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets would otherwise hold close() (and the test process) open.
        server.closeAllConnections();
      })),
  };
}

/** Python's urlencode(..., doseq=True), which Nova and Glance use for their pagination links. */
export function encodeQuery(query: Query): string {
  const quotePlus = (s: string): string =>
    encodeURIComponent(s)
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, '+');
  return Object.entries(query)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${quotePlus(key)}=${quotePlus(v)}`))
    .join('&');
}

/** The last value of a query parameter, as webob's `req.GET[name]` returns it. */
export const lastValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.at(-1) : value;
