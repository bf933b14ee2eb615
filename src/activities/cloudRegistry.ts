import { log } from '@temporalio/activity';
import { OpenStackClient, TokenCache, type RequestObserver } from '../openstack/index.js';
import type { LoadedConfig } from '../config/load.js';
import { workerOrThrow } from '../config/load.js';
import { cloudLabel } from '../config/credentials.js';
import type { ImageFunction } from '../config/serverOptions.js';

export interface CloudRegistryOptions {
  /** Per-request timeout for every OpenStack call. */
  timeoutMs?: number;
  /** Told about every OpenStack call of every client (the worker's metrics). */
  observer?: RequestObserver;
}

/**
 * The worker process's view of the clouds: one client per worker definition, all sharing one
 * token cache, so every lifecycle on the same cloud and project uses one Keystone token.
 * Credentials live here and nowhere else.
 */
export class CloudRegistry {
  private readonly tokens = new TokenCache();
  private readonly clients = new Map<string, OpenStackClient>();

  constructor(
    private readonly config: LoadedConfig,
    private readonly options: CloudRegistryOptions = {},
  ) {}

  forWorker(workerName: string): OpenStackClient {
    let client = this.clients.get(workerName);
    if (!client) {
      const { credentials, definition } = workerOrThrow(this.config, workerName);
      client = new OpenStackClient(credentials, {
        tokenCache: this.tokens,
        timeoutMs: this.options.timeoutMs,
        clientVersion: definition.client_version,
        observer: this.options.observer,
      });
      // Said once per worker definition, not once per lifecycle: client_version 1.1, unverified TLS.
      for (const warning of client.warnings) log.warn(`worker "${workerName}": ${warning}`);
      this.clients.set(workerName, client);
    }
    return client;
  }

  /** The worker's image function (the seed's callable), which stays in this process. */
  imageFunctionFor(workerName: string): ImageFunction {
    const imageFunction = workerOrThrow(this.config, workerName).imageFunction;
    if (!imageFunction) throw new Error(`worker "${workerName}" has no image function in ${this.config.source}`);
    return imageFunction;
  }

  /** A non-secret name for the worker's cloud and project, for reports. */
  cloudLabelFor(workerName: string): string {
    return cloudLabel(workerOrThrow(this.config, workerName).credentials);
  }

  /**
   * One worker name for each distinct cloud, project and region of the configured workers: a
   * client for any of them lists the same servers.
   */
  distinctClouds(): { cloud: string; workerName: string }[] {
    const byCloud = new Map<string, string>();
    for (const [workerName, { credentials }] of this.config.workers) {
      const cloud = cloudLabel(credentials) + (credentials.regionName ? ` (region ${credentials.regionName})` : '');
      if (!byCloud.has(cloud)) byCloud.set(cloud, workerName);
    }
    return [...byCloud].map(([cloud, workerName]) => ({ cloud, workerName }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
  }
}
