// Tiny local HTTP servers that answer with canned bodies as the real OpenStack services send them
// (shared/tools/openstack-notes.md, and the api-ref samples of Keystone, Nova, Cinder and Neutron).
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { HttpClient } from '../../src/openstack/http.js';
import { OpenStackClient, OpenStackError, type CloudCredentials, type PasswordCredentials } from '../../src/openstack/index.js';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  remotePort: number | undefined;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
}

/** `undefined`: the handler answers itself through `res`, or never answers at all. */
export type Handler = (req: Recorded, res: ServerResponse) => Reply | undefined | Promise<Reply | undefined>;

export interface Fake {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];

/** For `afterEach`: closes every fake server and client the test made. */
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export function onCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/** With `tls` (PEM key and certificate) it serves HTTPS. */
export async function fakeServer(handler: Handler, tls?: { key: string; cert: string }): Promise<Fake> {
  const requests: Recorded[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const recorded: Recorded = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort,
      };
      requests.push(recorded);
      void Promise.resolve(handler(recorded, res)).then((reply) => {
        if (reply === undefined) return;
        const text = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
        const type = typeof reply.body === 'string' || reply.body === undefined ? {} : { 'content-type': 'application/json' };
        res.writeHead(reply.status, { ...type, ...reply.headers });
        res.end(text);
      });
    });
  };
  const server: HttpServer = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: Fake = {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(fake.close);
  return fake;
}

export function httpClient(timeoutMs?: number): HttpClient {
  const http = new HttpClient({ timeoutMs });
  cleanups.push(() => http.close());
  return http;
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export async function openStackError(promise: Promise<unknown>): Promise<OpenStackError> {
  const error = await rejection(promise);
  if (!(error instanceof OpenStackError)) throw new Error(`expected an OpenStackError, got ${String(error)}`);
  return error;
}

const unauthorized: Reply = {
  status: 401,
  headers: { 'x-openstack-request-id': 'req-auth' },
  body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } },
};

/** Application credentials the fake Keystone knows: by id, and by name for user u-1 (`demo` in Default). */
export const APPLICATION_CREDENTIAL = { id: 'ac-1', name: 'ci-bots', secret: 'ac-s3cret-value' } as const;

/**
 * A small Keystone + Nova + Glance + Cinder + Neutron on one port: enough to exercise
 * authentication, the token cache and the service modules. Tokens are `tok-1`, `tok-2`, ... in
 * the order issued; `valid` holds the ones services accept.
 */
export class FakeCloud {
  fake!: Fake;
  issued = 0;
  valid = new Set<string>();
  tokenLifetimeMs = 60 * 60_000;
  authDelayMs = 0;
  /** The answer to `GET /identity` (version discovery); Keystone's 300 with v3 and v2.0 by default. */
  versions: () => Reply = () => ({
    status: 300,
    body: {
      versions: {
        values: [
          { id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z', links: [{ rel: 'self', href: `${this.url}/identity/v3/` }], 'media-types': [] },
          { id: 'v2.0', status: 'deprecated', updated: '2016-08-04T00:00:00Z', links: [{ rel: 'self', href: `${this.url}/identity/v2.0/` }], 'media-types': [] },
        ],
      },
    },
  });
  compute: (req: Recorded) => Reply = () => ({ status: 404, body: { itemNotFound: { code: 404, message: 'not here' } } });
  image: (req: Recorded) => Reply = () => ({ status: 404, body: 'nothing' });
  volume: (req: Recorded) => Reply = () => ({ status: 404, body: { itemNotFound: { code: 404, message: 'not here' } } });
  network: (req: Recorded) => Reply = () => ({ status: 404, body: { NeutronError: { type: 'HTTPNotFound', message: 'not here', detail: '' } } });
  /** Cinder's catalog URL; Cinder deployments register it with the project id, newer ones without. */
  volumeEndpoint: string | undefined;

  static async start(tls?: { key: string; cert: string }): Promise<FakeCloud> {
    const cloud = new FakeCloud();
    cloud.fake = await fakeServer((req) => cloud.handle(req), tls);
    return cloud;
  }

  get url(): string {
    return this.fake.url;
  }

  tokenRequests(): Recorded[] {
    return this.fake.requests.filter((req) => req.path.endsWith('/tokens'));
  }

  serviceRequests(prefix: string): Recorded[] {
    return this.fake.requests.filter((req) => req.path.startsWith(prefix));
  }

  private async handle(req: Recorded): Promise<Reply> {
    if (req.method === 'GET' && /^\/identity\/?$/.test(req.path)) return this.versions();
    if (req.method === 'POST' && req.path.endsWith('/tokens')) {
      if (this.authDelayMs) await new Promise((resolve) => setTimeout(resolve, this.authDelayMs));
      return req.path.endsWith('/v2.0/tokens') ? this.v2Token(req) : this.v3Token(req);
    }
    if (!this.valid.has(String(req.headers['x-auth-token']))) {
      return { ...unauthorized, headers: { 'www-authenticate': `Keystone uri="${this.url}/identity"` } };
    }
    if (req.path.startsWith('/compute')) return this.compute(req);
    if (req.path.startsWith('/image')) return this.image(req);
    if (req.path.startsWith('/volume')) return this.volume(req);
    if (req.path.startsWith('/network')) return this.network(req);
    return { status: 404, body: 'no such service' };
  }

  private issue(): { token: string; expires: string } {
    const token = `tok-${++this.issued}`;
    this.valid.add(token);
    return { token, expires: new Date(Date.now() + this.tokenLifetimeMs).toISOString().replace('Z', '000Z') };
  }

  private v2Token(req: Recorded): Reply {
    if (req.body.includes('"wrong-password"')) return unauthorized;
    const { token, expires } = this.issue();
    const endpoint = (url: string) => [{ region: 'RegionOne', publicURL: url, internalURL: url, adminURL: url }];
    return {
      status: 200,
      body: {
        access: {
          token: { id: token, expires, issued_at: new Date().toISOString(), tenant: { id: 'p-1', name: 'demo', enabled: true } },
          serviceCatalog: [
            { type: 'compute', name: 'nova', endpoints: endpoint(`${this.url}/compute/v2.1/p-1`) },
            { type: 'image', name: 'glance', endpoints: endpoint(`${this.url}/image`) },
          ],
          user: { id: 'u-1', name: 'demo' },
        },
      },
    };
  }

  /** Keystone v3 `POST /auth/tokens` for the password, application_credential and token methods. */
  private v3Token(req: Recorded): Reply {
    const { auth } = JSON.parse(req.body) as { auth: { identity: Record<string, unknown>; scope?: unknown } };
    const [method] = auth.identity.methods as string[];
    if (method === 'password' && req.body.includes('"wrong-password"')) return unauthorized;
    if (method === 'application_credential') {
      const credential = auth.identity.application_credential as { id?: string; name?: string; secret?: string; user?: Record<string, unknown> };
      const known = credential.id === APPLICATION_CREDENTIAL.id || (credential.name === APPLICATION_CREDENTIAL.name && credential.user !== undefined);
      if (!known || credential.secret !== APPLICATION_CREDENTIAL.secret) return unauthorized;
      // Keystone refuses a scope together with an application credential.
      if (auth.scope !== undefined) return unauthorized;
    }
    if (method === 'token') {
      const { id } = auth.identity.token as { id: string };
      // Keystone quotes the unknown token back: the client must not repeat it.
      if (!this.valid.has(id)) return { status: 404, body: { error: { code: 404, title: 'Not Found', message: `Could not find token: ${id}.` } } };
    }
    const { token, expires } = this.issue();
    const endpoints = (url: string) => ['public', 'internal', 'admin'].map((iface) => ({ id: iface, interface: iface, region: 'RegionOne', region_id: 'RegionOne', url }));
    return {
      status: 201,
      headers: { 'x-subject-token': token, 'x-openstack-request-id': `req-token-${this.issued}` },
      body: {
        token: {
          methods: [method],
          user: { id: 'u-1', name: 'demo', domain: { id: 'default', name: 'Default' }, password_expires_at: null },
          project: { id: 'p-1', name: 'demo', domain: { id: 'default', name: 'Default' } },
          ...(method === 'application_credential' ? { application_credential_restricted: true } : {}),
          expires_at: expires,
          issued_at: new Date().toISOString(),
          catalog: [
            { type: 'identity', name: 'keystone', id: 'k', endpoints: endpoints(`${this.url}/identity/v3`) },
            { type: 'compute', name: 'nova', id: 'n', endpoints: endpoints(`${this.url}/compute/v2.1`) },
            { type: 'image', name: 'glance', id: 'g', endpoints: endpoints(`${this.url}/image`) },
            { type: 'volumev3', name: 'cinderv3', id: 'c', endpoints: endpoints(this.volumeEndpoint ?? `${this.url}/volume/v3/p-1`) },
            { type: 'network', name: 'neutron', id: 'q', endpoints: endpoints(`${this.url}/network`) },
          ],
        },
      },
    };
  }
}

export function credentials(cloud: FakeCloud, extra: Partial<PasswordCredentials> = {}): CloudCredentials {
  return { authUrl: `${cloud.url}/identity/v3`, username: 'demo', password: 'pa55-w0rd', projectName: 'demo', ...extra };
}

export function client(creds: CloudCredentials, options: ConstructorParameters<typeof OpenStackClient>[1] = {}): OpenStackClient {
  const created = new OpenStackClient(creds, options);
  cleanups.push(() => created.close());
  return created;
}

export const server = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: `vm-${id}`,
  status: 'ACTIVE',
  tenant_id: 'p-1',
  metadata: {},
  created: '2026-11-27T22:35:14Z',
  updated: '2026-11-27T22:35:15Z',
  addresses: {},
  'OS-EXT-STS:task_state': null,
  ...extra,
});
