import { open } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { cliTypeNames } from '../client/setup.js';
import { searchAttributeKeys } from '../workflows/searchAttributes.js';
import { resolveTemporalCli } from './binaries.js';
import { spawnGuarded } from './guardedProcess.js';
import type { GuardedProcess } from './guardedProcess.js';
import { projectRoot } from './paths.js';
import { freePort, portOpen } from './ports.js';

export interface DevServerOptions {
  /** Front-end gRPC port; a free one is picked when omitted. */
  port?: number;
  /** Serve the Web UI, on `uiPort` or a free port. */
  ui?: boolean;
  uiPort?: number;
  /** A codec server for the Web UI (`--ui-codec-endpoint`), so that it shows encrypted payloads decoded. */
  uiCodecEndpoint?: string;
  /** SQLite file that keeps workflows across server restarts; in memory when omitted. */
  dbFilename?: string;
  /** Receives the server's stdout and stderr; defaults to `.scratch/temporal-dev-server-<port>.log`. */
  logFile?: string;
  /** Dynamic config overrides: key to any JSON value. */
  dynamicConfig?: Record<string, unknown>;
  /**
   * Register the project's search attributes at start (default). `false` gives a bare server, as
   * a real installation starts: what `latent-worker setup` is for.
   */
  searchAttributes?: boolean;
  /** How long to wait for the server to answer; the default suits a loaded 2-core machine. */
  startTimeoutMs?: number;
  /** Serve the server's own Prometheus metrics (`--metrics-port`), on a free port. */
  metrics?: boolean;
}

export interface DevServer {
  /** `127.0.0.1:PORT`, for `Connection.connect({ address })` and `NativeConnection.connect`. */
  address: string;
  uiUrl?: string;
  logFile: string;
  /** The server process, e.g. for reading its CPU and memory from /proc. */
  pid: number;
  /** Its Prometheus metrics, when asked for. */
  metricsUrl?: string;
  stop(): Promise<void>;
}

export const NAMESPACE = 'default';

export { cliTypeNames };

const PROBE_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 250;

/** Runs `temporal server start-dev` on 127.0.0.1, by default with the project's search attributes registered. */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = await resolveTemporalCli();
  const port = opts.port ?? (await freePort());
  const uiPort = opts.ui ? (opts.uiPort ?? (await freePort())) : undefined;
  const metricsPort = opts.metrics ? await freePort() : undefined;
  const logFile = opts.logFile ?? path.join(projectRoot, '.scratch', `temporal-dev-server-${port}.log`);
  const address = `127.0.0.1:${port}`;

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', NAMESPACE, '--log-level', 'warn'];
  // The UI would otherwise fetch a newsfeed from the internet, which these machines cannot reach.
  args.push(...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']));
  if (uiPort !== undefined && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  if (metricsPort !== undefined) args.push('--metrics-port', String(metricsPort));
  if (opts.searchAttributes !== false) for (const key of searchAttributeKeys) args.push('--search-attribute', `${key.name}=${cliTypeNames[key.type]}`);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const server = spawnGuarded(cli, args, logFile);
  try {
    await waitUntilReady(server, port, uiPort, opts.startTimeoutMs ?? 60_000, logFile);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    address,
    ...(uiPort === undefined ? {} : { uiUrl: `http://127.0.0.1:${uiPort}` }),
    ...(metricsPort === undefined ? {} : { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }),
    logFile,
    pid: server.pid,
    stop: () => server.stop(),
  };
}

async function waitUntilReady(server: GuardedProcess, port: number, uiPort: number | undefined, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const address = `127.0.0.1:${port}`;
  for (;;) {
    if (server.hasExited()) {
      throw new Error(`temporal server start-dev exited (${await server.exited}) before answering on ${address}.\n${await logTail(logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`temporal server start-dev did not answer on ${address} within ${timeoutMs / 1000} s.\n${await logTail(logFile)}`);
    }
    // The cheap TCP probe first: a gRPC connection to a closed port costs its whole timeout.
    const portsOpen = (await portOpen(port, PROBE_TIMEOUT_MS)) && (uiPort === undefined || (await portOpen(uiPort, PROBE_TIMEOUT_MS)));
    if (portsOpen && (await answers(address))) return;
    await delay(POLL_INTERVAL_MS);
  }
}

async function answers(address: string): Promise<boolean> {
  // `lazy` so the connection can always be closed: a failed `Connection.connect` leaves its channel open.
  const connection = Connection.lazy({ address, connectTimeout: PROBE_TIMEOUT_MS });
  try {
    await connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () => connection.workflowService.describeNamespace({ namespace: NAMESPACE }));
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}


async function logTail(logFile: string, bytes = 4_000): Promise<string> {
  try {
    const handle = await open(logFile);
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - bytes);
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - start), 0, size - start, start);
      return `Last output (${logFile}):\n${buffer.subarray(0, bytesRead).toString('utf8')}`;
    } finally {
      await handle.close();
    }
  } catch (error) {
    return `(no output: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * The environment of a child process that must reach the local dev server at `address` and
 * nothing else: none of the user's TEMPORAL_* settings (an API key, TLS, a profile) and no
 * temporal.toml, which would otherwise apply to it as they do to Temporal's own tools.
 */
export function devServerEnv(address: string, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const cleared = Object.fromEntries(Object.keys(env).filter((key) => key.startsWith('TEMPORAL_')).map((key) => [key, undefined]));
  return { ...cleared, TEMPORAL_ADDRESS: address, TEMPORAL_CONFIG_FILE: path.join(projectRoot, '.scratch', 'no-such-dir', 'temporal.toml') };
}

/** The same as arguments of `env`: `-u NAME` for each cleared variable, `NAME=value` for the rest. */
export function envArgs(vars: Record<string, string | undefined>): string[] {
  // env takes its options before the first assignment.
  const entries = Object.entries(vars);
  return [...entries.filter(([, value]) => value === undefined).flatMap(([key]) => ['-u', key]), ...entries.filter(([, value]) => value !== undefined).map(([key, value]) => `${key}=${value}`)];
}
