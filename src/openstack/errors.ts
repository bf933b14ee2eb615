import { STATUS_CODES } from 'node:http';

export type OpenStackService = 'identity' | 'compute' | 'image' | 'block-storage' | 'network';

/**
 * What went wrong, in terms a caller can act on. `retryable` says whether the same request may
 * succeed later; `kind` says why, so that e.g. a quota error can be treated as "no capacity yet"
 * rather than as a burned attempt.
 */
export type OpenStackErrorKind =
  | 'timeout' // no complete answer within the deadline
  | 'connection' // refused, reset, DNS failure, ...
  | 'auth' // 401, still after one re-authentication
  | 'forbidden' // 403 that is not a quota error
  | 'quotaExceeded' // 403/413 whose message mentions quota
  | 'rateLimited' // 429, or 413 without a quota message
  | 'badRequest' // 400
  | 'notFound' // 404, or a name lookup that matched nothing
  | 'ambiguous' // a name lookup that matched more than one resource
  | 'conflict' // 409
  | 'unsupportedVersion' // 406, or an API or microversion the cloud does not offer
  | 'server' // 5xx
  | 'http' // any other non-2xx status
  | 'invalidResponse' // a 2xx answer we cannot use (not JSON, fields missing)
  | 'endpointNotFound'; // the service catalog has no matching endpoint

export interface OpenStackErrorFields {
  kind: OpenStackErrorKind;
  service: OpenStackService;
  operation: string;
  method?: string;
  url?: string;
  status?: number;
  code?: string;
  cloudMessage?: string;
  requestId?: string;
  retryable: boolean;
  retryAfterMs?: number;
}

export class OpenStackError extends Error implements OpenStackErrorFields {
  override readonly name = 'OpenStackError';
  readonly kind: OpenStackErrorKind;
  readonly service: OpenStackService;
  readonly operation: string;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly cloudMessage: string | undefined;
  readonly requestId: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(fields: OpenStackErrorFields, detail: string, options?: { cause?: unknown }) {
    const request = fields.requestId ? ` (request ${fields.requestId})` : '';
    super(`${fields.service} ${fields.operation} failed: ${detail}${request}`, options);
    this.kind = fields.kind;
    this.service = fields.service;
    this.operation = fields.operation;
    this.method = fields.method;
    this.url = fields.url;
    this.status = fields.status;
    this.code = fields.code;
    this.cloudMessage = fields.cloudMessage;
    this.requestId = fields.requestId;
    this.retryable = fields.retryable;
    this.retryAfterMs = fields.retryAfterMs;
  }

  /** Plain data for logs and Temporal failure details (Error's own fields are not enumerable). */
  toJSON(): OpenStackErrorFields & { name: string; message: string } {
    const json: OpenStackErrorFields & { name: string; message: string } = {
      name: this.name,
      message: this.message,
      kind: this.kind,
      service: this.service,
      operation: this.operation,
      retryable: this.retryable,
    };
    for (const key of ['method', 'url', 'status', 'code', 'cloudMessage', 'requestId', 'retryAfterMs'] as const) {
      if (this[key] !== undefined) Object.assign(json, { [key]: this[key] });
    }
    return json;
  }
}

export function isOpenStackError(error: unknown, kind?: OpenStackErrorKind): error is OpenStackError {
  return error instanceof OpenStackError && (kind === undefined || error.kind === kind);
}

/** Cloud messages are quoted in error messages; an HTML error page must not flood a log line. */
const MAX_CLOUD_MESSAGE = 500;

export interface HttpErrorContext {
  service: OpenStackService;
  operation: string;
  method: string;
  url: string;
  /** Strings that must never appear in an error (the token or password sent with the request). */
  secrets: readonly string[];
}

export interface HttpErrorResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpError(context: HttpErrorContext, response: HttpErrorResponse): OpenStackError {
  const { status, headers } = response;
  const parsed = parseErrorBody(response.body, header(headers, 'content-type'));
  const cloudMessage = parsed.message === undefined
    ? undefined
    : truncate(redact(withoutEchoedValue(parsed.message), context.secrets), MAX_CLOUD_MESSAGE);
  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), Date.now());
  const kind = kindForStatus(status, cloudMessage);
  const reason = STATUS_CODES[status] ?? 'Unknown Status';
  const detail = cloudMessage ? `${status} ${reason}: ${cloudMessage}` : `${status} ${reason}`;
  return new OpenStackError(
    {
      kind,
      service: context.service,
      operation: context.operation,
      method: context.method,
      url: context.url,
      status,
      code: parsed.code,
      cloudMessage,
      requestId: requestIdOf(headers),
      retryable: kind === 'timeout' || kind === 'rateLimited' || kind === 'server',
      retryAfterMs,
    },
    detail,
  );
}

const QUOTA_EXCEEDED = /quota.*(exceed|limit|breach)|(exceed|limit|breach).*quota/i;

function kindForStatus(status: number, message: string | undefined): OpenStackErrorKind {
  // "quota" alone is not enough: a policy denial for os-quota-sets is a plain 403.
  const mentionsQuota = message !== undefined && QUOTA_EXCEEDED.test(message);
  if ((status === 403 || status === 413) && mentionsQuota) return 'quotaExceeded';
  switch (status) {
    case 400:
      return 'badRequest';
    case 401:
      return 'auth';
    case 403:
      return 'forbidden';
    case 404:
      return 'notFound';
    case 406: // Nova and Cinder: "Version 2.99 is not supported by the API. Minimum is 2.1 and maximum is 2.93."
      return 'unsupportedVersion';
    case 408:
      return 'timeout';
    case 409:
      return 'conflict';
    case 413: // Nova's historical rate limiter answered 413 overLimit with Retry-After
    case 429:
      return 'rateLimited';
  }
  return status >= 500 ? 'server' : 'http';
}

/**
 * Nova's schema errors quote the offending value, which for `server` is the whole request body
 * (user_data, metadata, ...): "Invalid input for field/attribute server. Value: {...}. 'networks'
 * is a required property". Keep the field and the reason, drop the value. The reason is taken
 * after the last ". ", so a value containing ". " is dropped whole rather than leaking its tail.
 */
function withoutEchoedValue(message: string): string {
  const prefix = /^Invalid input for .*?\. Value: /s.exec(message)?.[0];
  if (prefix === undefined) return message;
  const reasonStart = message.lastIndexOf('. ');
  const reason = reasonStart >= prefix.length ? `. ${message.slice(reasonStart + 2)}` : '';
  return `${prefix}[omitted]${reason}`;
}

export function requestIdOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  return header(headers, 'x-openstack-request-id') ?? header(headers, 'x-compute-request-id');
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

interface ParsedErrorBody {
  code?: string;
  message?: string;
}

/**
 * Each service wraps its errors differently:
 * - Nova, Cinder: `{"badRequest": {"code": 400, "message": "..."}}` (the key names the error);
 * - Keystone and keystonemiddleware: `{"error": {"code": 401, "title": "Unauthorized", "message": "..."}}`;
 * - Neutron: `{"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}`;
 * - Placement: `{"errors": [{"status": 404, "title": "Not Found", "detail": "..."}]}`;
 * - webob defaults (Glance): HTML or plain text pages, or `{"code": "404 Not Found", "title", "message"}`.
 */
function parseErrorBody(body: string, contentType: string | undefined): ParsedErrorBody {
  const text = body.trim();
  if (text === '') return {};
  const json = tryParseJson(text);
  if (json !== undefined) {
    const parsed = parseJsonError(json);
    if (parsed === undefined) return { message: collapse(text) };
    // webob's JSON errors keep its HTML body template: "explanation<br /><br />\n\n".
    return { ...parsed, message: parsed.message === undefined ? undefined : collapse(parsed.message.replace(/<br\s*\/?>/gi, ' ')) };
  }
  if (contentType?.includes('html') || /^<(!doctype|html)/i.test(text)) return { message: htmlText(text) };
  return { message: plainText(text) };
}

function parseJsonError(json: unknown): ParsedErrorBody | undefined {
  if (!isRecord(json)) return undefined;
  if (Array.isArray(json.errors)) {
    const first: unknown = json.errors[0];
    if (isRecord(first)) {
      return { code: stringOf(first.code) ?? stringOf(first.title), message: stringOf(first.detail) ?? stringOf(first.title) };
    }
  }
  if (typeof json.message === 'string') {
    return { code: stringOf(json.title), message: json.message };
  }
  for (const [key, inner] of Object.entries(json)) {
    if (!isRecord(inner)) continue;
    const message = stringOf(inner.message) ?? stringOf(inner.faultstring);
    if (message === undefined) continue;
    const code = key === 'error' ? stringOf(inner.title) : key === 'NeutronError' ? stringOf(inner.type) : key;
    return { code, message };
  }
  return undefined;
}

/** webob's HTML template repeats the status in <title> and <h1>; keep only the explanation lines. */
function htmlText(html: string): string {
  const body = /<body[^>]*>([\s\S]*?)<\/body>/i.exec(html)?.[1] ?? html;
  const lines = body
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<h1[^>]*>[\s\S]*?<\/h1>/gi, '')
    .replace(/<[^>]+>/g, '')
    .split('\n')
    .map((line) => decodeEntities(line).trim())
    .filter((line) => line !== '');
  return lines.join(' ') || collapse(html.replace(/<[^>]+>/g, ' '));
}

/** webob's plain-text page starts with the status line, which the message already carries. */
function plainText(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  if (lines.length > 1 && /^\d{3} /.test(lines[0] ?? '')) lines.shift();
  return lines.join(' ');
}

function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;/g, "'")
    .replace(/&amp;/g, '&');
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length > 0) result = result.split(secret).join('[redacted]');
  }
  return result;
}

function tryParseJson(text: string): unknown {
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
