// Names of the project's own metrics, shared by workflow code (which emits the lifecycle ones)
// and the worker process (which emits the rest and sets every histogram's buckets). The
// Prometheus endpoint adds `_total` to counters; docs/operations.md lists labels and meaning.
export const METRIC_NAMES = {
  lifecycles: 'latent_worker_lifecycles',
  phaseDuration: 'latent_worker_phase_duration_seconds',
  openstackRequests: 'latent_worker_openstack_requests',
  openstackRequestDuration: 'latent_worker_openstack_request_duration_seconds',
  serversCreated: 'latent_worker_servers_created',
  serversDeleted: 'latent_worker_servers_deleted',
  serversReaped: 'latent_worker_servers_reaped',
} as const;
