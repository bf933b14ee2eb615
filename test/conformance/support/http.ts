import { request } from 'undici';
import type { Account, Target } from './target.js';

// Raw HTTP for wire-level assertions: status codes, headers and bodies exactly as each target
// sends them, with no client in between to normalise them.

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  text: string;
}

export interface CallOptions {
  token?: string;
  json?: unknown;
  headers?: Record<string, string>;
  /** Default 20 s: the real cloud answers in well under a second, but Keystone can be slow cold. */
  timeoutMs?: number;
}

export async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.token !== undefined) headers['x-auth-token'] = options.token;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = options.timeoutMs ?? 20_000;
  const res = await request(url, {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body, text };
}

export const header = (reply: Reply, name: string): string | undefined => {
  const value = reply.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
};

export function passwordAuth(account: Account, scope: 'names' | { userId: string; projectId: string } = 'names') {
  if (scope === 'names') {
    return {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: account.username, domain: { name: 'Default' }, password: account.password } },
        },
        scope: { project: { name: account.project, domain: { name: 'Default' } } },
      },
    };
  }
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { id: scope.userId, password: account.password } } },
      scope: { project: { id: scope.projectId } },
    },
  };
}

export interface Login {
  token: string;
  projectId: string;
  userId: string;
  compute: string;
  image: string;
}

/** The public endpoint of `type` in the target's region, as a client would pick it. */
export function endpointOf(catalog: unknown, type: string, region: string): string {
  const entries = catalog as { type: string; endpoints: { interface: string; region: string; url: string }[] }[];
  const url = entries.find((e) => e.type === type)?.endpoints.find((e) => e.interface === 'public' && e.region === region)?.url;
  if (url === undefined) throw new Error(`no public ${type} endpoint in ${region}`);
  return url.replace(/\/+$/, '');
}

export async function login(target: Target, account: Account): Promise<Login> {
  const res = await call('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(account) });
  if (res.status !== 201) throw new Error(`login as ${account.username} failed: HTTP ${res.status} ${res.text}`);
  const token = res.body.token;
  return {
    token: header(res, 'x-subject-token') ?? '',
    projectId: token.project.id,
    userId: token.user.id,
    compute: endpointOf(token.catalog, 'compute', target.region),
    image: endpointOf(token.catalog, 'image', target.region),
  };
}

/** Polls until `done`, at most `timeoutMs`; returns the last value either way for the caller to assert on. */
export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const microversion = (version: string) => ({ 'openstack-api-version': `compute ${version}` });

/** A server name no earlier run left behind: list-by-name checks must see only this run's servers. */
export const uniqueName = (prefix: string): string => `conformance-${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
