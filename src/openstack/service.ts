import { endpointFor, type EndpointQuery, type ServiceType } from './catalog.js';
import { isOpenStackError, type OpenStackService } from './errors.js';
import type { HttpClient, HttpRequest, HttpResponse, Query } from './http.js';
import type { Authenticator, Session } from './keystone.js';

export interface ServiceRequest {
  operation: string;
  method: HttpRequest['method'];
  /** Builds the request URL from the catalog endpoint (no trailing slash) of the current session. */
  url: (endpoint: string, session: Session) => string;
  query?: Query;
  headers?: Record<string, string>;
  json?: unknown;
  signal?: AbortSignal;
}

/** Authenticated requests to one service of one cloud, found through the session's catalog. */
export class ServiceConnection {
  constructor(
    private readonly http: HttpClient,
    private readonly auth: Authenticator,
    readonly service: OpenStackService,
    private readonly serviceType: ServiceType,
    private readonly endpointQuery: EndpointQuery,
  ) {}

  async request(req: ServiceRequest): Promise<HttpResponse> {
    const session = await this.auth.session({ signal: req.signal });
    try {
      return await this.send(session, req);
    } catch (error) {
      if (!isOpenStackError(error, 'auth')) throw error;
      // Tokens die before their expiry time (revocation, fernet key rotation, a Keystone
      // restart with a new key): one new token and one more try, never a loop.
      this.auth.invalidate(session);
      return this.send(await this.auth.session({ signal: req.signal }), req);
    }
  }

  private send(session: Session, req: ServiceRequest): Promise<HttpResponse> {
    const endpoint = endpointFor(session.catalog, this.serviceType, this.endpointQuery);
    return this.http.request({
      service: this.service,
      operation: req.operation,
      method: req.method,
      url: req.url(endpoint, session),
      query: req.query,
      headers: { ...req.headers, 'x-auth-token': session.token },
      json: req.json,
      signal: req.signal,
      secrets: [session.token],
    });
  }
}
