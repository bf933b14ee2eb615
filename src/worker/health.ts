import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/workerOps.js';

/** One readiness check: ok, or why not. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface HealthChecks {
  /** What the process is doing, e.g. the Temporal worker's state. */
  state(): string;
  /** Every check must pass for /readyz to answer 200. Each must settle within its own timeout. */
  readiness: Record<string, () => Promise<CheckResult>>;
}

export interface HealthServer {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

// A probe that hangs must not hold the connection: the checks have their own timeouts, this bounds the rest.
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * `GET /healthz`: 200 while the process serves at all (liveness). `GET /readyz`: 200 when every
 * readiness check passes, else 503 (readiness; it turns 503 as soon as shutdown begins). Both
 * answer JSON: `{status, state, checks}`.
 */
export async function startHealthServer(address: ListenAddress, checks: HealthChecks): Promise<HealthServer> {
  const server = http.createServer((request, response) => {
    void answer(request, checks).then(({ status, body }) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : JSON.stringify(body) + '\n');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive probes would otherwise hold the close open until they time out.
        server.closeAllConnections();
      }),
  };
}

async function answer(request: http.IncomingMessage, checks: HealthChecks): Promise<{ status: number; body: unknown }> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return { status: 405, body: { error: 'only GET and HEAD' } };
  const path = new URL(request.url ?? '/', 'http://health').pathname;
  if (path === '/healthz') return { status: 200, body: { status: 'ok', state: checks.state() } };
  if (path === '/readyz') {
    const names = Object.keys(checks.readiness);
    const results = await Promise.all(names.map((name) => checks.readiness[name]!().catch((error: unknown) => ({ ok: false, detail: String(error) }))));
    const ready = results.every((result) => result.ok);
    return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', state: checks.state(), checks: Object.fromEntries(names.map((name, index) => [name, results[index]])) } };
  }
  return { status: 404, body: { error: `no such endpoint: ${path} (try /healthz or /readyz)` } };
}
