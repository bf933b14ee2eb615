import type { MetricCounter, MetricHistogram, MetricMeter } from '@temporalio/common';
import type { ObservedRequest } from '../openstack/index.js';
import { METRIC_NAMES } from '../workflows/metricNames.js';

/**
 * Bucket bounds, in seconds, for each of our histograms. The SDK's defaults are for
 * milliseconds; a phase lasts from a second (authenticating) to hours (attached).
 */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRIC_NAMES.phaseDuration]: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200],
  [METRIC_NAMES.openstackRequestDuration]: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
};

/** The worker process's own metrics, on the meter of Temporal's runtime so one endpoint serves them with the SDK's. */
export class WorkerMetrics {
  private readonly requests: MetricCounter;
  private readonly requestDuration: MetricHistogram;
  private readonly created: MetricCounter;
  private readonly deleted: MetricCounter;
  private readonly reaped: MetricCounter;

  constructor(meter: MetricMeter) {
    this.requests = meter.createCounter(METRIC_NAMES.openstackRequests, '', 'OpenStack API calls, by service, operation and HTTP status (or timeout, connection, cancelled)');
    this.requestDuration = meter.createHistogram(METRIC_NAMES.openstackRequestDuration, 'float', 's', 'OpenStack API call duration, by service and operation');
    this.created = meter.createCounter(METRIC_NAMES.serversCreated, '', 'Servers created (or adopted after a lost create response), by worker name');
    this.deleted = meter.createCounter(METRIC_NAMES.serversDeleted, '', 'Servers of lifecycles deleted and confirmed gone, by worker name');
    this.reaped = meter.createCounter(METRIC_NAMES.serversReaped, '', 'Orphan servers deleted by the reaper, by the worker name whose cloud client deleted them');
  }

  /** For the OpenStack client's observer hook. */
  readonly openstackRequest = ({ service, operation, status, durationSeconds }: ObservedRequest): void => {
    this.requests.add(1, { service, operation, status });
    this.requestDuration.record(durationSeconds, { service, operation });
  };

  serverCreated(workerName: string, adopted: boolean): void {
    this.created.add(1, { worker: workerName, adopted: String(adopted) });
  }

  serverDeleted(workerName: string): void {
    this.deleted.add(1, { worker: workerName });
  }

  serverReaped(workerName: string): void {
    this.reaped.add(1, { worker: workerName });
  }
}
