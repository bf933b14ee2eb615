export { httpOptionsFor, OpenStackClient, type ClientOptions } from './client.js';
export {
  endpointFor,
  type Catalog,
  type CatalogEndpoint,
  type CatalogEntry,
  type EndpointInterface,
  type EndpointQuery,
  type ServiceType,
} from './catalog.js';
export { BlockStorageApi, type Volume, type VolumeSnapshot } from './cinder.js';
export {
  checkCredentials,
  secretsOf,
  tokenCacheKey,
  type ApplicationCredentialCredentials,
  type AuthType,
  type CloudConnection,
  type CloudCredentials,
  type IdentityVersion,
  type PasswordCredentials,
  type ProjectScope,
  type TokenCredentials,
  type UserRef,
} from './credentials.js';
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
export { DEFAULT_TIMEOUT_MS, DEFAULT_USER_AGENT, HttpClient, type HttpOptions, type ObservedRequest, type RequestObserver } from './http.js';
export { RateLimiter } from './rateLimiter.js';
export { Semaphore } from './semaphore.js';
export { Session, type CallOptions, type SessionSummary } from './keystone.js';
export {
  checkMicroversion,
  microversionAtLeast,
  parseClientVersion,
  type ClientVersion,
} from './microversion.js';
export { NetworkApi, type Network } from './neutron.js';
export { asBase64, ComputeApi, serversThatFit } from './nova.js';
export type {
  AbsoluteLimits,
  BlockDeviceMapping,
  ComputeLimits,
  ComputeVersion,
  ConsoleOutputOptions,
  CreatedServer,
  CreateServerOptions,
  Flavor,
  NegotiatedMicroversion,
  Server,
  ServerAddress,
  ServerCreate,
  ServerFault,
  ServerFilters,
  ServerNetworks,
  ServerStatus,
} from './novaTypes.js';
export { TokenCache, type TokenCacheOptions } from './tokenCache.js';
