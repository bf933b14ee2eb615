import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter } from '@temporalio/common';
import type { InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { ObservedRequest } from '../openstack/index.js';
import { LAUNCH_READY, LAUNCH_RESULTS, LAUNCH_UNKNOWN_ERROR, METRIC_NAMES } from '../workflows/metricNames.js';
import type { LifecycleMetricSinks } from '../workflows/metrics.js';
import { LIFECYCLE_WORKFLOW_TYPE, OUTCOMES } from '../contract/names.js';

/**
 * Bucket bounds, in seconds, for each of our histograms. The SDK's defaults are for
 * milliseconds; a phase lasts from a second (authenticating) to hours (attached).
 */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRIC_NAMES.phaseDuration]: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200],
  [METRIC_NAMES.openstackRequestDuration]: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  [METRIC_NAMES.rateLimitWait]: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
};

/**
 * The fleet census's gauges (src/worker/fleetCensus.ts). Named here rather than with the
 * lifecycle's metric names, which the workflow code shares: these are the worker process's alone.
 */
export const FLEET_METRIC_NAMES = {
  fleetProcesses: 'latent_worker_fleet_processes',
  shareRequestsPerSecond: 'latent_worker_cloud_share_requests_per_second',
  shareCreateSlots: 'latent_worker_cloud_share_create_slots',
  bootSlots: 'latent_worker_cloud_boot_slots',
  booting: 'latent_worker_cloud_booting_servers',
} as const;

/** What a delete that keeps failing reports (see `serverDeleteFailed`). */
export interface UndeletableServer {
  workerName: string;
  cloud: string;
  serverId: string;
}

/** The worker process's own metrics, on the meter of Temporal's runtime so one endpoint serves them with the SDK's. */
export class WorkerMetrics {
  private readonly lifecycles: MetricCounter;
  private readonly phaseDuration: MetricHistogram;
  private readonly launches: MetricCounter;
  private readonly requests: MetricCounter;
  private readonly requestDuration: MetricHistogram;
  private readonly created: MetricCounter;
  private readonly deleted: MetricCounter;
  private readonly reaped: MetricCounter;
  private readonly deleteFailures: MetricCounter;
  private readonly deleteFailing: MetricGauge;
  private readonly undeletableReported: MetricCounter;
  private readonly running: MetricGauge;
  private readonly servers: MetricGauge;
  private readonly censusAt: MetricGauge;
  private readonly watcherListedAt: MetricGauge;
  private readonly watcherErrors: MetricCounter;
  private readonly watcherWaiting: MetricGauge;
  private readonly rateLimitWait: MetricHistogram;
  private readonly rateLimitRefused: MetricCounter;
  private readonly fleetProcesses: MetricGauge;
  private readonly shareRate: MetricGauge;
  private readonly shareSlots: MetricGauge;
  private readonly bootSlots: MetricGauge;
  private readonly bootingServers: MetricGauge;
  /** Servers whose delete keeps failing, per cloud: the gauge is their count. */
  private readonly stuck = new Map<string, Set<string>>();
  /** Statuses reported per cloud, so that one no longer seen goes back to 0 instead of keeping its last count. */
  private readonly statusesSeen = new Map<string, Set<string>>();

  constructor(meter: MetricMeter) {
    this.lifecycles = meter.createCounter(METRIC_NAMES.lifecycles, '', 'Lifecycles ended, by outcome and worker name');
    this.phaseDuration = meter.createHistogram(METRIC_NAMES.phaseDuration, 'float', 's', 'Time spent in each lifecycle phase');
    this.launches = meter.createCounter(METRIC_NAMES.launches, '', 'Launches (server create and boot wait), by worker name and result: ready or error.<reason>');
    this.requests = meter.createCounter(METRIC_NAMES.openstackRequests, '', 'OpenStack API calls, by service, operation and HTTP status (or timeout, connection, cancelled)');
    this.requestDuration = meter.createHistogram(METRIC_NAMES.openstackRequestDuration, 'float', 's', 'OpenStack API call duration, by service and operation');
    this.created = meter.createCounter(METRIC_NAMES.serversCreated, '', 'Servers created (or adopted after a lost create response), by worker name');
    this.deleted = meter.createCounter(METRIC_NAMES.serversDeleted, '', 'Servers of lifecycles deleted and confirmed gone, by worker name');
    this.reaped = meter.createCounter(METRIC_NAMES.serversReaped, '', 'Orphan servers deleted by the reaper, by the worker name whose cloud client deleted them');
    this.undeletableReported = meter.createCounter(METRIC_NAMES.serversUndeletable, '', 'Servers whose delete kept failing past deletes.reportAfterSeconds (reported once each; the delete goes on), by worker name');
    this.deleteFailures = meter.createCounter(METRIC_NAMES.serverDeleteFailures, '', 'Deletes of a server that failed or left it in place, by worker name and cloud (each is retried until the server is gone)');
    this.deleteFailing = meter.createGauge(METRIC_NAMES.serversDeleteFailing, 'int', '', 'Servers this process is deleting whose delete keeps failing, by cloud');
    this.running = meter.createGauge(METRIC_NAMES.lifecyclesRunning, 'int', '', 'Running lifecycles of this task queue by phase, as Temporal visibility counts them (the same in every worker process)');
    this.servers = meter.createGauge(METRIC_NAMES.servers, 'int', '', "This deployment's servers by cloud and Nova status, from the last census list");
    this.censusAt = meter.createGauge(METRIC_NAMES.censusTimestamp, 'float', 's', 'When the last census succeeded, by source (temporal, or the cloud), in Unix seconds');
    this.watcherListedAt = meter.createGauge(METRIC_NAMES.watcherLastList, 'float', 's', "When the cloud's status watcher or poller last listed successfully, in Unix seconds");
    this.watcherErrors = meter.createCounter(METRIC_NAMES.watcherListErrors, '', "Failed lists of the cloud's status watcher or poller");
    this.watcherWaiting = meter.createGauge(METRIC_NAMES.watcherWaiting, 'int', '', 'Servers whose boot (or, for lifecycles of earlier versions, delete) the cloud status watcher or poller is waiting on, by cloud');
    this.rateLimitWait = meter.createHistogram(METRIC_NAMES.rateLimitWait, 'float', 's', "How long requests to a cloud waited for their turn under the cloud's requests_per_second, by cloud");
    this.rateLimitRefused = meter.createCounter(METRIC_NAMES.rateLimitRefused, '', 'Requests refused because their turn under requests_per_second was further away than their timeout, by cloud');
    this.fleetProcesses = meter.createGauge(FLEET_METRIC_NAMES.fleetProcesses, 'int', '', "Worker processes polling this task queue's activities, as this process last counted them");
    this.shareRate = meter.createGauge(FLEET_METRIC_NAMES.shareRequestsPerSecond, 'float', '', "This process's share of the cloud's requests_per_second, by cloud");
    this.shareSlots = meter.createGauge(FLEET_METRIC_NAMES.shareCreateSlots, 'int', '', "This process's share of the cloud's max_concurrent_creates, by cloud");
    this.bootSlots = meter.createGauge(FLEET_METRIC_NAMES.bootSlots, 'int', '', 'Servers this process lets boot at once on the cloud under max_booting (its share of a fixed cap, or where its adaptive cap stands), by cloud');
    this.bootingServers = meter.createGauge(FLEET_METRIC_NAMES.booting, 'int', '', 'Servers this process created on the cloud whose boot has not been seen to end, under max_booting, by cloud');
  }

  /**
   * Every counter an alert looks at, at 0 for each configured worker (and its cloud), before
   * anything happens: `increase()` cannot see the first count of a series that starts at 1, so
   * without this the first missing CI worker or failed launch of a process would go unnoticed.
   */
  initialize(namespace: string, taskQueue: string, workers: { workerName: string; cloud: string }[]): void {
    const tags = { namespace, task_queue: taskQueue, workflow_type: LIFECYCLE_WORKFLOW_TYPE };
    const results = new Set([LAUNCH_READY, ...Object.values(LAUNCH_RESULTS), LAUNCH_UNKNOWN_ERROR]);
    for (const { workerName, cloud } of workers) {
      for (const outcome of OUTCOMES) this.lifecycles.add(0, { ...tags, outcome, worker: workerName });
      for (const result of results) this.launches.add(0, { ...tags, worker: workerName, result });
      this.deleteFailures.add(0, { worker: workerName, cloud });
      for (const adopted of ['false', 'true']) this.created.add(0, { worker: workerName, adopted });
      this.deleted.add(0, { worker: workerName });
      this.reaped.add(0, { worker: workerName });
      this.undeletableReported.add(0, { worker: workerName });
    }
  }

  /**
   * The sink of the lifecycle's metrics (src/workflows/metrics.ts), labelled like the SDK's own
   * workflow metrics: namespace, task_queue, workflow_type. Not called during replay.
   */
  lifecycleSinks(): InjectedSinks<LifecycleMetricSinks> {
    const tags = (info: WorkflowInfo) => ({ namespace: info.namespace, task_queue: info.taskQueue, workflow_type: info.workflowType });
    return {
      lifecycleMetrics: {
        lifecycleEnded: { fn: (info, outcome, worker) => this.lifecycles.add(1, { ...tags(info), outcome, worker }), callDuringReplay: false },
        phaseEnded: { fn: (info, phase, seconds) => this.phaseDuration.record(seconds, { ...tags(info), phase }), callDuringReplay: false },
        launchEnded: { fn: (info, worker, result) => this.launches.add(1, { ...tags(info), worker, result }), callDuringReplay: false },
      },
    };
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

  serverUndeletable(workerName: string): void {
    this.undeletableReported.add(1, { worker: workerName });
  }

  serverReaped(workerName: string): void {
    this.reaped.add(1, { worker: workerName });
  }

  /**
   * A delete of a server failed, or left it there: counted, and the server counts as
   * undeletable (`latent_worker_servers_delete_failing`) until `serverDeleteSettled` says it is gone
   * or no longer this process's business. For the delete path's "undeletable server" report.
   */
  serverDeleteFailed({ workerName, cloud, serverId }: UndeletableServer): void {
    this.deleteFailures.add(1, { worker: workerName, cloud });
    let servers = this.stuck.get(cloud);
    if (!servers) this.stuck.set(cloud, (servers = new Set()));
    servers.add(serverId);
    this.deleteFailing.set(servers.size, { cloud });
  }

  serverDeleteSettled(cloud: string, serverId: string): void {
    const servers = this.stuck.get(cloud);
    if (!servers?.delete(serverId)) return;
    this.deleteFailing.set(servers.size, { cloud });
  }

  /** Running lifecycles by phase, from one visibility census. */
  lifecycleCensus(taskQueue: string, countsByPhase: Record<string, number>, at: Date): void {
    for (const [phase, count] of Object.entries(countsByPhase)) this.running.set(count, { task_queue: taskQueue, phase });
    this.censusAt.set(at.getTime() / 1000, { source: 'temporal' });
  }

  /**
   * This deployment's servers on one cloud by status, from one full list; an undeletable server
   * the list no longer has is gone (another process's delete, or the cloud's own cleanup).
   */
  serverCensus(cloud: string, countsByStatus: Record<string, number>, listedIds: ReadonlySet<string>, at: Date): void {
    for (const serverId of this.stuck.get(cloud) ?? []) if (!listedIds.has(serverId)) this.serverDeleteSettled(cloud, serverId);
    let seen = this.statusesSeen.get(cloud);
    if (!seen) this.statusesSeen.set(cloud, (seen = new Set()));
    for (const status of Object.keys(countsByStatus)) seen.add(status);
    for (const status of seen) this.servers.set(countsByStatus[status] ?? 0, { cloud, status });
    this.censusAt.set(at.getTime() / 1000, { source: cloud });
  }

  /** For the request budget (`requests_per_second`) of `cloud`. */
  rateLimitTurn(cloud: string): (waitMs: number, refused: boolean) => void {
    this.rateLimitRefused.add(0, { cloud });
    return (waitMs, refused) => {
      if (refused) this.rateLimitRefused.add(1, { cloud });
      else this.rateLimitWait.record(waitMs / 1000, { cloud });
    };
  }

  /** After each fleet census: the processes counted on `taskQueue`, and this process's share of each cloud's limits. */
  fleetShares(taskQueue: string, fleetSize: number, shares: readonly { cloud: string; requestsPerSecond: number; createSlots: number }[]): void {
    this.fleetProcesses.set(fleetSize, { task_queue: taskQueue });
    for (const { cloud, requestsPerSecond, createSlots } of shares) {
      this.shareRate.set(requestsPerSecond, { cloud });
      this.shareSlots.set(createSlots, { cloud });
    }
  }

  /** For the boot cap (`max_booting`) of `cloud`: where it stands, and the servers holding its slots. */
  bootPacing(cloud: string): (slots: number, booting: number) => void {
    return (slots, booting) => {
      this.bootSlots.set(slots, { cloud });
      this.bootingServers.set(booting, { cloud });
    };
  }

  /** For the status poller of `cloud`: each list, and the number of servers it waits on. */
  watcherHealth(cloud: string): { listed(ok: boolean, waiting: number): void } {
    this.watcherErrors.add(0, { cloud });
    return {
      listed: (ok, waiting) => {
        if (ok) this.watcherListedAt.set(Date.now() / 1000, { cloud });
        else this.watcherErrors.add(1, { cloud });
        this.watcherWaiting.set(waiting, { cloud });
      },
    };
  }
}
