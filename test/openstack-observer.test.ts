import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, type ObservedRequest } from '../src/openstack/http.js';
import { freePort } from '../src/temporal/ports.js';

// The observer hook the worker's metrics hang on: one report per exchange, whatever its end.

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    if (request.url === '/hang') return; // never answers: the client's deadline must end it
    response.writeHead(request.url === '/busy' ? 503 : 200, { 'content-type': 'application/json' });
    response.end(request.url === '/busy' ? '{"error":"busy"}' : '{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('the OpenStack HTTP observer', () => {
  it('reports each exchange with its service, operation and status, or why it has none', async () => {
    const seen: ObservedRequest[] = [];
    const client = new HttpClient({ timeoutMs: 300, observer: (request) => seen.push(request) });
    const call = (url: string, signal?: AbortSignal) => client.request({ service: 'compute', operation: 'getServer', method: 'GET', url, signal }).catch((error: unknown) => error);
    try {
      await call(`${base}/ok`);
      await call(`${base}/busy`);
      await call(`${base}/hang`);
      await call(`http://127.0.0.1:${await freePort()}/refused`);
      await call(`${base}/hang`, AbortSignal.timeout(50));
    } finally {
      await client.close();
    }
    expect(seen.map(({ service, operation, method, status }) => ({ service, operation, method, status }))).toEqual(
      ['200', '503', 'timeout', 'connection', 'cancelled'].map((status) => ({ service: 'compute', operation: 'getServer', method: 'GET', status })),
    );
    const [ok, , timedOut] = seen;
    expect(ok!.durationSeconds).toBeGreaterThan(0);
    expect(timedOut!.durationSeconds).toBeGreaterThanOrEqual(0.29);
  });
});
