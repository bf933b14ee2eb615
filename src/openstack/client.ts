import { ImageApi } from './glance.js';
import { HttpClient } from './http.js';
import { Authenticator, TokenCache, type CallOptions, type CloudCredentials, type Session } from './keystone.js';
import { ComputeApi } from './nova.js';
import { ServiceConnection } from './service.js';

export interface ClientOptions {
  /** Per HTTP call (clouds.yaml `api_timeout`); default 30 s. */
  timeoutMs?: number;
  /** Share one cache between clients of the same worker process; default: one per client. */
  tokenCache?: TokenCache;
  /** Compute microversion (`2.N` or `latest`); default: the base API with no version header. */
  microversion?: string;
  userAgent?: string;
}

/** One cloud, as one set of credentials sees it. Close it to release its connections. */
export class OpenStackClient {
  readonly compute: ComputeApi;
  readonly image: ImageApi;
  private readonly http: HttpClient;
  private readonly auth: Authenticator;

  /** Throws a RangeError for unusable settings (auth URL, microversion, timeout) before any request. */
  constructor(credentials: CloudCredentials, options: ClientOptions = {}) {
    this.http = new HttpClient({ timeoutMs: options.timeoutMs, userAgent: options.userAgent });
    this.auth = new Authenticator(this.http, credentials, options.tokenCache ?? new TokenCache());
    const endpointQuery = { interface: credentials.interface ?? 'public', region: credentials.regionName };
    this.compute = new ComputeApi(
      new ServiceConnection(this.http, this.auth, 'compute', 'compute', endpointQuery),
      options.microversion,
    );
    this.image = new ImageApi(new ServiceConnection(this.http, this.auth, 'image', 'image', endpointQuery));
  }

  /** A valid session, from the cache when it is fresh; it checks the credentials early. */
  authenticate(options: CallOptions = {}): Promise<Session> {
    return this.auth.session(options);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
