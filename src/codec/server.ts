import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { PayloadDecryptionError } from './encryption.js';

// Temporal's codec server protocol, as the Web UI and `temporal` CLI speak it: POST /encode or
// /decode with {"payloads": [...]} in proto3 JSON (metadata values and data in base64), the
// namespace in X-Namespace, and the same shape back.

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Default 8888; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: whoever reaches this server can decrypt every payload it is shown. */
  host?: string;
  /** Browser origins allowed to call it: the Web UI's address, e.g. http://127.0.0.1:8233. */
  origins: readonly string[];
  /** Told about requests that failed on our side (never payload contents). */
  onError?: (message: string) => void;
}

export interface CodecServer {
  /** http://HOST:PORT, what `--ui-codec-endpoint` takes. */
  url: string;
  close(): Promise<void>;
}

/** The Web UI decodes a page of history at a time; Temporal caps one payload at 2 MB by default. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      const problem = error instanceof HttpProblem ? error : undefined;
      if (!problem) options.onError?.(`${req.method} ${req.url}: ${error instanceof Error ? error.message : String(error)}`);
      reply(res, problem?.status ?? 500, { error: problem?.message ?? 'internal error; see the codec server log' });
    });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8888, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(options: CodecServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  // Requests without an Origin come from programs, not browsers; CORS does not concern them.
  if (origin !== undefined) {
    if (!options.origins.includes(origin)) throw new HttpProblem(403, `origin ${origin} is not allowed; start the codec server with --origin ${origin}`);
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  }
  const path = new URL(req.url ?? '/', 'http://codec').pathname;
  const operation = path === '/encode' ? 'encode' : path === '/decode' ? 'decode' : undefined;
  if (!operation) throw new HttpProblem(404, 'POST /encode or /decode');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      'Access-Control-Allow-Headers': 'Content-Type, X-Namespace',
      'Access-Control-Max-Age': '600',
    });
    res.end();
    return;
  }
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST, OPTIONS');
    throw new HttpProblem(405, `use POST ${path}`);
  }
  const payloads = parseRequest(await readBody(req));
  let result: Payload[];
  try {
    result = operation === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
  } catch (error) {
    if (error instanceof PayloadDecryptionError) throw new HttpProblem(422, error.message);
    throw error;
  }
  reply(res, 200, { payloads: result.map(toJson) });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpProblem(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

function parseRequest(body: string): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpProblem(400, 'request body is not JSON');
  }
  const payloads = isRecord(parsed) ? parsed.payloads : undefined;
  if (!Array.isArray(payloads)) throw new HttpProblem(400, 'expected {"payloads": [...]}');
  return payloads.map((payload: unknown, index) => fromJson(payload, `payloads[${index}]`));
}

function fromJson(value: unknown, where: string): Payload {
  if (!isRecord(value)) throw new HttpProblem(400, `${where} is not an object`);
  const { metadata = {}, data = '' } = value;
  if (!isRecord(metadata)) throw new HttpProblem(400, `${where}.metadata is not an object`);
  return {
    metadata: Object.fromEntries(Object.entries(metadata).map(([key, item]) => [key, base64(item, `${where}.metadata.${key}`)])),
    data: base64(data, `${where}.data`),
  };
}

function base64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new HttpProblem(400, `${where} is not a base64 string`);
  return Buffer.from(value, 'base64');
}

function toJson(payload: Payload): JsonPayload {
  const metadata = Object.entries(payload.metadata ?? {}).map(([key, item]) => [key, Buffer.from(item ?? new Uint8Array()).toString('base64')]);
  return { metadata: Object.fromEntries(metadata), data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
