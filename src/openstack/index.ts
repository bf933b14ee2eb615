export { OpenStackClient, type ClientOptions } from './client.js';
export {
  endpointFor,
  type Catalog,
  type CatalogEndpoint,
  type CatalogEntry,
  type EndpointInterface,
  type EndpointQuery,
  type ServiceType,
} from './catalog.js';
export {
  isOpenStackError,
  OpenStackError,
  type OpenStackErrorFields,
  type OpenStackErrorKind,
  type OpenStackService,
} from './errors.js';
export {
  ImageApi,
  type Image,
  type ImageFilters,
  type ImageStatus,
  type ImageVisibility,
} from './glance.js';
export { DEFAULT_TIMEOUT_MS, DEFAULT_USER_AGENT } from './http.js';
export {
  Session,
  TokenCache,
  tokenCacheKey,
  type CallOptions,
  type CloudCredentials,
  type IdentityVersion,
  type SessionSummary,
  type TokenCacheOptions,
} from './keystone.js';
export {
  ComputeApi,
  type BlockDeviceMapping,
  type ComputeVersion,
  type CreatedServer,
  type CreateServerOptions,
  type Flavor,
  type Server,
  type ServerAddress,
  type ServerCreate,
  type ServerFault,
  type ServerFilters,
  type ServerNetworks,
  type ServerStatus,
} from './nova.js';
