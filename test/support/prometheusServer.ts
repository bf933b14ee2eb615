import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { spawnGuarded, type GuardedProcess } from '../../src/temporal/guardedProcess.js';
import { freePort } from '../../src/temporal/ports.js';

/** Debian's `prometheus` package (.ci/run installs it). */
export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

export interface PrometheusServer {
  url: string;
  /** An instant query; throws with Prometheus' own error when it is refused. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** A GET on the HTTP API, e.g. `/api/v1/rules`; its `data`. */
  api<T>(pathAndQuery: string): Promise<T>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Where its config, storage and log go. */
  dir: string;
  /** job name -> `host:port` targets, each scraped every second. */
  jobs: Record<string, string[]>;
  ruleFiles?: string[];
}

const HTTP_TIMEOUT_MS = 10_000;

/** A real Prometheus server on a free loopback port, with a fresh storage directory; resolves once it is ready. */
export async function startPrometheus({ dir, jobs, ruleFiles = [] }: PrometheusOptions): Promise<PrometheusServer> {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install prometheus), as .ci/run does`);
  mkdirSync(dir, { recursive: true });
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets }] })),
  };
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = path.join(dir, 'prometheus.log');
  const child: GuardedProcess = spawnGuarded(
    PROMETHEUS,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    logFile,
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.hasExited()) throw new Error(`prometheus exited (${await child.exited}) before it was ready; see ${logFile}`);
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`prometheus not ready within 60 s; see ${logFile}`);
    }
    await delay(200);
  }
  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const response = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus refused ${pathAndQuery}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    api,
    query: async (expr) => {
      const data = await api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (data.resultType !== 'vector') throw new Error(`expected an instant vector from ${expr}, got a ${data.resultType}`);
      return data.result;
    },
    stop: () => child.stop(5_000),
  };
}
