import type { ServerEvent } from '../src/simulator/index.js';

/** What the simulator saw of one server, in epoch milliseconds of this machine's clock. */
export interface ServerTimes {
  serverId: string;
  name: string;
  created?: number;
  active?: number;
  error?: number;
  gone?: number;
}

/** Server names are `<worker>-<first 8 of the run id>-<launch>` (src/workflows/launch.ts). */
const SERVER_NAME = /^(.+)-[0-9a-f]{8}-\d+$/;

export function workerNameOf(serverName: string): string | undefined {
  return SERVER_NAME.exec(serverName)?.[1];
}

/**
 * The simulator's own account of every server, fed by its onServerEvent hook. The benchmark plays
 * the CI master from it: a real VM's CI worker connects once the VM has booted, whether or not
 * the lifecycle has noticed yet, so `attached` goes out when the simulator makes the server ACTIVE.
 */
export class ServerTimeline {
  private readonly servers = new Map<string, ServerTimes>();
  private readonly byWorker = new Map<string, ServerTimes[]>();
  private readonly listeners = new Set<(event: ServerEvent) => void>();

  readonly record = (event: ServerEvent): void => {
    let times = this.servers.get(event.serverId);
    if (!times) {
      times = { serverId: event.serverId, name: event.name };
      this.servers.set(event.serverId, times);
      const worker = workerNameOf(event.name);
      if (worker !== undefined) this.byWorker.set(worker, [...(this.byWorker.get(worker) ?? []), times]);
    }
    times[event.kind] = event.at;
    for (const listener of this.listeners) listener(event);
  };

  on(listener: (event: ServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every server of a worker name created since `since`, oldest first. */
  serversOf(workerName: string, since: number): ServerTimes[] {
    return (this.byWorker.get(workerName) ?? []).filter((s) => (s.created ?? 0) >= since);
  }

  get(serverId: string): ServerTimes | undefined {
    return this.servers.get(serverId);
  }
}
