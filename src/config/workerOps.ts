import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './errors.js';

// How the `latent-worker worker` process itself is run: its metrics and health endpoints, its
// log lines, and how long it drains on SIGTERM. Each setting is a command-line option with an
// environment variable behind it, so a container sets them without changing its command.

export const LOG_FORMATS = ['json', 'text'] as const;
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ListenAddress {
  host: string;
  port: number;
  /** `host:port` (IPv6 in brackets), as Temporal's metrics exporter and URLs want it. */
  hostPort: string;
}

export interface WorkerOpsSettings {
  /** Where Prometheus scrapes /metrics; no endpoint when absent. */
  metrics?: ListenAddress;
  /** Where /healthz and /readyz answer; no endpoint when absent. */
  health?: ListenAddress;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** How long in-flight activities may run on after SIGINT/SIGTERM before they are cancelled and handed back. */
  shutdownGraceSeconds: number;
  /** How often lifecycles by phase and servers by status are counted for the metrics; 0: never. */
  censusIntervalSeconds: number;
}

/** Raw values, from the command line or else the environment. */
export interface WorkerOpsInput {
  metricsAddress?: string;
  healthAddress?: string;
  logFormat?: string;
  logLevel?: string;
  shutdownGrace?: string;
  censusInterval?: string;
}

export const WORKER_OPS_ENV = {
  metricsAddress: 'LATENT_WORKER_METRICS_ADDRESS',
  healthAddress: 'LATENT_WORKER_HEALTH_ADDRESS',
  logFormat: 'LATENT_WORKER_LOG_FORMAT',
  logLevel: 'LATENT_WORKER_LOG_LEVEL',
  shutdownGrace: 'LATENT_WORKER_SHUTDOWN_GRACE',
  censusInterval: 'LATENT_WORKER_CENSUS_INTERVAL',
} as const satisfies Record<keyof WorkerOpsInput, string>;

const FLAGS: Record<keyof WorkerOpsInput, string> = {
  metricsAddress: '--metrics-address',
  healthAddress: '--health-address',
  logFormat: '--log-format',
  logLevel: '--log-level',
  shutdownGrace: '--shutdown-grace',
  censusInterval: '--census-interval',
};

export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;
const MAX_SHUTDOWN_GRACE_SECONDS = 3600;
export const DEFAULT_CENSUS_INTERVAL_SECONDS = 60;
const MAX_CENSUS_INTERVAL_SECONDS = 86_400;

// Temporal's metrics exporter binds a socket address, not a host name: the host must be an IP.
const listenAddress = z.string().transform((value, context): ListenAddress => {
  const parsed = parseListenAddress(value.trim());
  if (!parsed) {
    context.addIssue({ code: 'custom', message: `must be PORT or IP:PORT (e.g. 9464, 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464), got "${value}"` });
    return z.NEVER;
  }
  return parsed;
});

const schema = z.object({
  metricsAddress: listenAddress.optional(),
  healthAddress: listenAddress.optional(),
  logFormat: z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` }).optional(),
  logLevel: z
    .string()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')} (any case)` }))
    .optional(),
  shutdownGrace: z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*$/, 'must be a number of seconds, 0 or more')
    .transform(Number)
    .pipe(z.number().max(MAX_SHUTDOWN_GRACE_SECONDS, `must be at most ${MAX_SHUTDOWN_GRACE_SECONDS} seconds`))
    .optional(),
  censusInterval: z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*$/, 'must be a number of seconds (0 turns the census off)')
    .transform(Number)
    .pipe(z.number().max(MAX_CENSUS_INTERVAL_SECONDS, `must be at most ${MAX_CENSUS_INTERVAL_SECONDS} seconds`))
    .optional(),
});

/**
 * The worker process's settings, each from its option or else its variable. Throws a
 * ConfigError naming the option, its variable and what is valid.
 */
export function parseWorkerOps(options: WorkerOpsInput, env: Record<string, string | undefined> = process.env, stdoutIsTty = process.stdout.isTTY === true): WorkerOpsSettings {
  const raw = Object.fromEntries(
    (Object.keys(WORKER_OPS_ENV) as (keyof WorkerOpsInput)[]).map((key) => [key, options[key] ?? (env[WORKER_OPS_ENV[key]] || undefined)]),
  );
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path[0] as keyof WorkerOpsInput;
      return `${FLAGS[key]} (or ${WORKER_OPS_ENV[key]}) ${issue.message}`;
    });
    throw new ConfigError(problems.join('; '));
  }
  const { metricsAddress, healthAddress, logFormat, logLevel, shutdownGrace, censusInterval } = result.data;
  if (metricsAddress && healthAddress && metricsAddress.port === healthAddress.port) {
    throw new ConfigError(`--metrics-address and --health-address must use different ports, both are ${metricsAddress.port}`);
  }
  return {
    ...(metricsAddress ? { metrics: metricsAddress } : {}),
    ...(healthAddress ? { health: healthAddress } : {}),
    // A person at a terminal reads lines; a log collector parses them.
    logFormat: logFormat ?? (stdoutIsTty ? 'text' : 'json'),
    logLevel: logLevel ?? 'INFO',
    shutdownGraceSeconds: shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE_SECONDS,
    censusIntervalSeconds: censusInterval ?? DEFAULT_CENSUS_INTERVAL_SECONDS,
  };
}

function parseListenAddress(value: string): ListenAddress | undefined {
  const match = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):)?(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? match[2] ?? '127.0.0.1';
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  const family = isIP(host);
  if (family === 0 || (family === 6) !== (match[1] !== undefined)) return undefined;
  return { host, port, hostPort: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}
