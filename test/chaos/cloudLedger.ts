import { request } from 'undici';
import type { Simulator } from '../../src/simulator/index.js';

/** A server as Nova lists it with `changes-since`: deleted ones included. */
export interface LedgerServer {
  id: string;
  name: string;
  status: string;
  metadata: Record<string, string>;
}

const SEED_USER = { username: 'user', password: 'password', tenantName: 'tenant' };
const TIMEOUT_MS = 10_000;

/**
 * The suite's own account of what the cloud holds, read over Nova's API rather than through the
 * code under test: every server ever created in the project (`changes-since` the epoch lists
 * deleted servers too, as in Nova), and the servers still there.
 */
export async function everyServer(simulator: Simulator): Promise<LedgerServer[]> {
  const auth = await call('POST', `${simulator.authUrlV2}/tokens`, undefined, {
    auth: { passwordCredentials: { username: SEED_USER.username, password: SEED_USER.password }, tenantName: SEED_USER.tenantName },
  });
  const access = (auth as { access: { token: { id: string }; serviceCatalog: { type: string; endpoints: { publicURL: string }[] }[] } }).access;
  const compute = access.serviceCatalog.find((service) => service.type === 'compute')?.endpoints[0]?.publicURL;
  if (!compute) throw new Error('the simulator catalog has no compute endpoint');
  const listed = (await call('GET', `${compute}/servers/detail?changes-since=1970-01-01T00:00:00Z&limit=1000`, access.token.id)) as {
    servers: LedgerServer[];
    servers_links?: unknown[];
  };
  if (listed.servers_links?.length) throw new Error('more than 1000 servers in one chaos trial: the ledger reads one page only');
  return listed.servers.map(({ id, name, status, metadata }) => ({ id, name, status, metadata: metadata ?? {} }));
}

async function call(method: 'GET' | 'POST', url: string, token: string | undefined, json?: unknown): Promise<unknown> {
  const response = await request(url, {
    method,
    headers: { accept: 'application/json', ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { 'x-auth-token': token } : {}) },
    body: json === undefined ? undefined : JSON.stringify(json),
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`ledger ${method} ${url}: ${response.statusCode} ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}
