import { createRequire } from 'node:module';
import { Agent, request } from 'undici';
import { httpError, OpenStackError, redact, requestIdOf, type OpenStackService } from './errors.js';
import type { RateLimiter } from './rateLimiter.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

const packageVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
export const DEFAULT_USER_AGENT = `openstack-latent-worker/${packageVersion}`;

export interface HttpOptions {
  /** Per call: connect, response headers, each body chunk, and the whole exchange (clouds.yaml `api_timeout`). */
  timeoutMs?: number;
  userAgent?: string;
  /** PEM certificates to trust instead of Node's bundled CAs (clouds.yaml `cacert`, read from its file). */
  ca?: string;
  /** Accept any TLS certificate (clouds.yaml `verify: false`): anyone on the path can read the tokens. */
  insecure?: boolean;
  /** The cloud's request budget, shared by every client of that cloud; none by default. */
  rateLimiter?: RateLimiter;
  /** Told about every finished exchange, e.g. to count calls; it must not throw. */
  observer?: RequestObserver;
}

/** One finished exchange: never a URL, header or body, so nothing secret reaches an observer. */
export interface ObservedRequest {
  service: OpenStackService;
  operation: string;
  method: HttpRequest['method'];
  /** The HTTP status as a string, or why no status came: `timeout`, `connection`, `cancelled`. */
  status: string;
  durationSeconds: number;
}

export type RequestObserver = (request: ObservedRequest) => void;

export type QueryValue = string | number | boolean | readonly string[] | undefined;
export type Query = Record<string, QueryValue>;

export interface HttpRequest {
  service: OpenStackService;
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** Arrays become repeated parameters (`tag=a&tag=b`); undefined values are left out. */
  query?: Query;
  headers?: Record<string, string>;
  json?: unknown;
  signal?: AbortSignal;
  /** Values (token, password) that must never show up in an error built from this exchange. */
  secrets?: readonly string[];
  /** Non-2xx statuses that are answers, not errors (Keystone's version list comes as 300). */
  okStatuses?: readonly number[];
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
  requestId: string | undefined;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const CONNECTION_CODES = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** JSON over HTTP with one keep-alive connection pool per origin, a deadline on every call, and typed errors. */
export class HttpClient {
  readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly agent: Agent;
  private readonly rateLimiter: RateLimiter | undefined;
  private readonly observer: RequestObserver | undefined;

  constructor(options: HttpOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number of milliseconds, got ${String(options.timeoutMs)}`);
    }
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.rateLimiter = options.rateLimiter;
    this.observer = options.observer;
    this.agent = new Agent({
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: {
        timeout: this.timeoutMs,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.insecure ? { rejectUnauthorized: false } : {}),
      },
    });
  }

  /** Resolves for 2xx answers; anything else rejects with an OpenStackError (or the caller's abort reason). */
  async request(req: HttpRequest): Promise<HttpResponse> {
    // The turn is waited for before the call's own deadline starts; the wait is bounded by the same timeout.
    await this.rateLimiter?.acquire({ service: req.service, operation: req.operation }, this.timeoutMs, req.signal);
    const url = withQuery(req.url, req.query);
    const secrets = req.secrets ?? [];
    const context = { service: req.service, operation: req.operation, method: req.method, url, secrets };
    // The undici timeouts bound each phase; this deadline bounds the whole exchange, so a server
    // that trickles bytes cannot hold a call open forever.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent, ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }

    let status: number;
    let responseHeaders: HttpResponse['headers'];
    let text: string;
    const startedAt = performance.now();
    try {
      const response = await request(url, { method: req.method, headers, body, signal, dispatcher: this.agent });
      status = response.statusCode;
      responseHeaders = response.headers;
      // Always read the body to its end, error or not: an unread body pins the connection.
      text = await response.body.text();
    } catch (error) {
      const failure = transportError(context, error, req.signal, deadline, this.timeoutMs);
      this.observe(req, failure instanceof OpenStackError ? (failure.kind === 'timeout' ? 'timeout' : 'connection') : 'cancelled', startedAt);
      throw failure;
    }
    this.observe(req, String(status), startedAt);

    if ((status < 200 || status >= 300) && !req.okStatuses?.includes(status)) {
      throw httpError(context, { status, headers: responseHeaders, body: text });
    }
    const requestId = requestIdOf(responseHeaders);
    return { status, headers: responseHeaders, body: parseJsonBody(context, text, status, requestId), requestId };
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private observe(req: HttpRequest, status: string, startedAt: number): void {
    this.observer?.({ service: req.service, operation: req.operation, method: req.method, status, durationSeconds: (performance.now() - startedAt) / 1000 });
  }
}

interface ExchangeContext {
  service: OpenStackService;
  operation: string;
  method: string;
  url: string;
  secrets: readonly string[];
}

function withQuery(base: string, query: Query | undefined): string {
  if (query === undefined) return base;
  const url = new URL(base);
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value as readonly string[]) url.searchParams.append(key, item);
    } else {
      url.searchParams.set(key, String(value));
    }
  }
  return url.toString();
}

function parseJsonBody(context: ExchangeContext, text: string, status: number, requestId: string | undefined): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Redacted before it is cut: a secret that straddles the cut would leave its head behind.
    const snippet = redact(text, context.secrets).slice(0, 120).replace(/\s+/g, ' ');
    throw new OpenStackError(
      { ...fieldsOf(context), kind: 'invalidResponse', status, requestId, retryable: false },
      `${status} answer is not JSON: ${snippet}`,
    );
  }
}

function transportError(
  context: ExchangeContext,
  error: unknown,
  callerSignal: AbortSignal | undefined,
  deadline: AbortSignal,
  timeoutMs: number,
): unknown {
  // A cancelled caller (e.g. a cancelled Temporal activity) gets its own reason back untouched,
  // so that its framework recognises the cancellation.
  if (callerSignal?.aborted) return callerSignal.reason;
  const code = errorCode(error);
  const where = `${context.method} ${context.url}`;
  if (deadline.aborted || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new OpenStackError(
      { ...fieldsOf(context), kind: 'timeout', retryable: true },
      `no complete answer within ${timeoutMs} ms (${where})`,
      { cause: error },
    );
  }
  const reason = redact(error instanceof Error ? error.message : String(error), context.secrets);
  return new OpenStackError(
    { ...fieldsOf(context), kind: 'connection', retryable: code !== undefined && CONNECTION_CODES.has(code) },
    `cannot reach the service: ${reason} (${where})`,
    { cause: error },
  );
}

function fieldsOf(context: ExchangeContext): { service: OpenStackService; operation: string; method: string; url: string } {
  return { service: context.service, operation: context.operation, method: context.method, url: context.url };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
