import { readFileSync } from 'node:fs';
import { BlockStorageApi } from './cinder.js';
import type { CloudCredentials } from './credentials.js';
import { ImageApi } from './glance.js';
import { HttpClient, type HttpOptions, type RequestObserver } from './http.js';
import { Authenticator, type CallOptions, type Session } from './keystone.js';
import { parseClientVersion } from './microversion.js';
import { NetworkApi } from './neutron.js';
import { ComputeApi } from './nova.js';
import { ServiceConnection } from './service.js';
import { TokenCache } from './tokenCache.js';

export interface ClientOptions {
  /** Per HTTP call, for clouds that set no `apiTimeoutMs` (clouds.yaml `api_timeout`) of their own; default 30 s. */
  timeoutMs?: number;
  /** Share one cache between clients of the same worker process; default: one per client. */
  tokenCache?: TokenCache;
  /** Compute microversion (`2.N` or `latest`); default: the base API with no version header. */
  microversion?: string;
  /** Buildbot's `client_version` ('1.1', '2' or '2.N'), instead of `microversion`. */
  clientVersion?: string;
  userAgent?: string;
  /**
   * One connection pool (and request budget) shared by the clients of one cloud; the caller owns
   * it and closes it. Default: a pool of the client's own, built from the credentials' TLS settings.
   */
  http?: HttpClient;
  /** Told about every HTTP exchange of this client (service, operation, status, duration). */
  observer?: RequestObserver;
}

/** One cloud, as one set of credentials sees it. Close it to release its connections. */
export class OpenStackClient {
  readonly compute: ComputeApi;
  readonly image: ImageApi;
  readonly blockStorage: BlockStorageApi;
  readonly network: NetworkApi;
  /** Settings an operator should change (deprecated client_version, TLS verification off), for the caller to log. */
  readonly warnings: readonly string[];
  private readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly auth: Authenticator;

  /** Throws a RangeError for unusable settings (auth URL, credentials, microversion, timeout, CA file) before any request. */
  constructor(credentials: CloudCredentials, options: ClientOptions = {}) {
    if (options.microversion !== undefined && options.clientVersion !== undefined) {
      throw new RangeError('give microversion or clientVersion, not both');
    }
    const clientVersion = options.clientVersion === undefined ? undefined : parseClientVersion(options.clientVersion);
    const warnings = [clientVersion?.warning, credentials.insecure ? insecureWarning(credentials.authUrl) : undefined];
    this.warnings = warnings.filter((warning) => warning !== undefined);

    this.ownsHttp = options.http === undefined;
    this.http = options.http ?? new HttpClient(httpOptionsFor(credentials, options));
    this.auth = new Authenticator(this.http, credentials, options.tokenCache ?? new TokenCache());
    const endpointQuery = { interface: credentials.interface ?? 'public', region: credentials.regionName };
    const connect = (service: ServiceConnection['service']) => new ServiceConnection(this.http, this.auth, service, service, endpointQuery);
    this.compute = new ComputeApi(connect('compute'), clientVersion ? clientVersion.microversion : options.microversion);
    this.image = new ImageApi(connect('image'));
    this.blockStorage = new BlockStorageApi(connect('block-storage'));
    this.network = new NetworkApi(connect('network'));
    if (credentials.insecure) warnOnce(credentials.authUrl);
  }

  /** A valid session, from the cache when it is fresh; it checks the credentials early. */
  authenticate(options: CallOptions = {}): Promise<Session> {
    return this.auth.session(options);
  }

  close(): Promise<void> {
    return this.ownsHttp ? this.http.close() : Promise.resolve();
  }
}

/** The HTTP settings a cloud's credentials ask for (timeout, CA bundle, TLS verification). */
export function httpOptionsFor(credentials: CloudCredentials, options: Pick<ClientOptions, 'timeoutMs' | 'userAgent' | 'observer'> = {}): HttpOptions {
  return {
    timeoutMs: credentials.apiTimeoutMs ?? options.timeoutMs,
    userAgent: options.userAgent,
    ca: credentials.cacert === undefined ? undefined : readCaBundle(credentials.cacert),
    insecure: credentials.insecure,
    observer: options.observer,
  };
}

function readCaBundle(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new RangeError(`cacert '${path}' cannot be read (${code})`);
  }
}

function insecureWarning(authUrl: string): string {
  return `TLS certificate verification is OFF for ${authUrl} (verify: false): anyone on the network path can read and replace its tokens and passwords; give the cloud's CA with cacert instead`;
}

const warnedInsecure = new Set<string>();

/** Once per cloud and process, on stderr even when the caller never reads `warnings`. */
function warnOnce(authUrl: string): void {
  if (warnedInsecure.has(authUrl)) return;
  warnedInsecure.add(authUrl);
  process.emitWarning(insecureWarning(authUrl), { code: 'OPENSTACK_TLS_UNVERIFIED' });
}
