import { ApplicationFailure } from '@temporalio/common';
import { Command, InvalidArgumentError } from 'commander';
import { findImage, type ResolvedImage } from '../../activities/images.js';
import { cloudCall } from '../../activities/failures.js';
import { ConfigError, workerOrThrow, type ResolvedWorker } from '../../config/load.js';
import { cloudLabel } from '../../config/credentials.js';
import { isOpenStackError, OpenStackClient, TokenCache } from '../../openstack/index.js';
import type { ImageSpec, WorkerSpec } from '../../workflows/types.js';
import { EXIT } from '../exitCodes.js';
import { loadConfig, printJson } from './common.js';
import { collectProperty } from './substantiate.js';
import { FAILURE_TYPES } from '../../contract/names.js';

interface ValidateOptions {
  connect?: boolean;
  property: Record<string, string>;
  timeout: number;
  json?: boolean;
}

interface WorkerReport {
  worker: string;
  ok: boolean;
  /** A definition that cannot work as given (exit 2) rather than a cloud that refused it (exit 1). */
  usage?: boolean;
  summary: string;
}

export function validateCommand(): Command {
  return new Command('validate')
    .description('check worker definitions; with --connect also log in to each cloud and look up its image and flavor (nothing is created)')
    .argument('[names...]', 'worker names from the config file (default: every worker)')
    .option('--connect', "authenticate to each worker's cloud and check its compute version, flavor and image")
    .option('-p, --property <key=value>', 'a build property, for definitions that use them (repeatable)', collectProperty, {})
    .option('--timeout <seconds>', 'deadline of each OpenStack request', parseSeconds, 10)
    .option('--json', 'print JSON')
    .action(async (names: string[], options: ValidateOptions, command: Command) => {
      // Loading checks every definition and reports every problem at once (ConfigError: exit 2).
      const config = await loadConfig(command);
      const workers = names.length > 0 ? names.map((name) => workerOrThrow(config, name)) : [...config.workers.values()];
      const reports = options.connect ? await connectAll(workers, options) : workers.map(describeDefinition);
      if (options.json) printJson(reports);
      else for (const report of reports) console.log(`${report.worker}: ${report.ok ? 'ok' : 'FAILED'}: ${report.summary}`);
      if (reports.some((report) => report.usage)) process.exitCode = EXIT.usage;
      else if (reports.some((report) => !report.ok)) process.exitCode = EXIT.failure;
    });
}

function describeDefinition(worker: ResolvedWorker): WorkerReport {
  const { definition } = worker;
  const image = worker.imageFunction ? 'an image function' : definition.image === undefined ? 'block_devices' : `image ${describeImage(definition.image)}`;
  return {
    worker: definition.name,
    ok: true,
    summary: `cloud ${cloudLabel(worker.credentials)}, flavor ${definition.flavor}, ${image} (not checked against the cloud: use --connect)`,
  };
}

async function connectAll(workers: ResolvedWorker[], options: ValidateOptions): Promise<WorkerReport[]> {
  // One token per cloud and project, as in the worker process.
  const tokenCache = new TokenCache();
  const clients: OpenStackClient[] = [];
  try {
    return await Promise.all(
      workers.map(async (worker) => {
        const name = worker.definition.name;
        let spec: WorkerSpec;
        try {
          spec = worker.specFor(options.property);
        } catch (error) {
          if (error instanceof ConfigError) return { worker: name, ok: false, usage: true, summary: error.message };
          throw error;
        }
        try {
          const client = new OpenStackClient(worker.credentials, { tokenCache, timeoutMs: options.timeout * 1000, clientVersion: spec.clientVersion });
          clients.push(client);
          return { worker: name, ok: true, summary: await checkCloud(client, worker, spec) };
        } catch (error) {
          return { worker: name, ok: false, summary: explain(error, worker) };
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** The steps a launch takes before it creates anything, in the same order. */
async function checkCloud(client: OpenStackClient, worker: ResolvedWorker, spec: WorkerSpec): Promise<string> {
  const session = await client.authenticate();
  const compute = await client.compute.negotiateMicroversion();
  const flavor = await client.compute.getFlavor(spec.flavor);
  const parts = [`cloud ${spec.cloud} (project ${session.projectId})`, `compute ${compute.effective}`, `flavor ${flavor.id} (${flavor.name})`];
  if (spec.image !== undefined) {
    const image: ResolvedImage = await findImage(client.image, spec.image, () => worker.imageFunction!, {});
    parts.push(`image ${image.id} (${image.name})`);
  }
  for (const device of spec.blockDevices ?? []) {
    if (device.sourceType !== 'image') continue;
    const image = await cloudCall(() => client.image.getImage(device.uuid));
    if (!image) throw ApplicationFailure.nonRetryable(`block_devices: image ${device.uuid} does not exist or is not visible to this project`, FAILURE_TYPES.imageNotFound);
    parts.push(`block device image ${image.id} (${image.name ?? 'unnamed'})`);
  }
  return parts.join(', ');
}

function explain(error: unknown, worker: ResolvedWorker): string {
  const message = error instanceof Error ? error.message : String(error);
  const kind = isOpenStackError(error) ? error.kind : error instanceof ApplicationFailure ? error.type?.replace(/^OpenStack/, '').toLowerCase() : undefined;
  if (kind === 'auth') return `authentication failed (check the worker's OpenStack credentials): ${message}`;
  if (kind === 'connection' || kind === 'timeout') return `cannot reach the cloud at ${worker.credentials.authUrl}: ${message}`;
  return message;
}

function describeImage(image: ImageSpec | ((...args: never[]) => unknown)): string {
  return typeof image === 'string' ? image : JSON.stringify(image);
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new InvalidArgumentError(`--timeout must be a positive number of seconds, got "${value}"`);
  return seconds;
}
