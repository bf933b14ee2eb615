import { FAILURE_TYPES } from '../contract/names.js';

// Names of the project's own metrics, shared by workflow code (which emits the lifecycle ones)
// and the worker process (which emits the rest and sets every histogram's buckets). The
// Prometheus endpoint adds `_total` to counters; docs/operations.md lists labels and meaning, and
// deploy/prometheus/ and deploy/grafana/ query them: a rename here is a rename there.
export const METRIC_NAMES = {
  lifecycles: 'latent_worker_lifecycles',
  phaseDuration: 'latent_worker_phase_duration_seconds',
  launches: 'latent_worker_launches',
  openstackRequests: 'latent_worker_openstack_requests',
  openstackRequestDuration: 'latent_worker_openstack_request_duration_seconds',
  serversCreated: 'latent_worker_servers_created',
  serversDeleted: 'latent_worker_servers_deleted',
  serversReaped: 'latent_worker_servers_reaped',
  serverDeleteFailures: 'latent_worker_server_delete_failures',
  serversUndeletable: 'latent_worker_servers_undeletable',
  serversDeleteFailing: 'latent_worker_servers_delete_failing',
  lifecyclesRunning: 'latent_worker_lifecycles_running',
  servers: 'latent_worker_servers',
  censusTimestamp: 'latent_worker_census_timestamp_seconds',
  watcherLastList: 'latent_worker_watcher_last_list_timestamp_seconds',
  watcherListErrors: 'latent_worker_watcher_list_errors',
  watcherWaiting: 'latent_worker_watcher_waiting_servers',
  rateLimitWait: 'latent_worker_rate_limit_wait_seconds',
  rateLimitRefused: 'latent_worker_rate_limit_refused',
} as const;

/**
 * The `result` of a launch (one server create and boot wait), in Nodepool's terms: `ready`, or
 * `error.<reason>`. Keyed by the failure type the launch's activities raise; any other is
 * `error.unknown`.
 */
export const LAUNCH_RESULTS: Readonly<Record<string, string>> = {
  [FAILURE_TYPES.openStackQuotaExceeded]: 'error.quota',
  [FAILURE_TYPES.serverQuotaExceeded]: 'error.quota',
  [FAILURE_TYPES.bootTimeout]: 'error.boot_timeout',
  [FAILURE_TYPES.serverError]: 'error.server_error',
  [FAILURE_TYPES.serverVanished]: 'error.server_vanished',
  OpenStackAuth: 'error.auth',
  OpenStackForbidden: 'error.auth',
  OpenStackBadRequest: 'error.invalid_request',
  OpenStackNotFound: 'error.not_found',
  [FAILURE_TYPES.blockDeviceSourceNotFound]: 'error.not_found',
  OpenStackRateLimited: 'error.rate_limited',
  OpenStackTimeout: 'error.cloud_unavailable',
  OpenStackConnection: 'error.cloud_unavailable',
  OpenStackServer: 'error.cloud_unavailable',
  [FAILURE_TYPES.createSlotTimeout]: 'error.create_slot_timeout',
};

export const LAUNCH_READY = 'ready';
export const LAUNCH_UNKNOWN_ERROR = 'error.unknown';
