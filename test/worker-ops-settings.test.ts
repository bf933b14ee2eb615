import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { EXIT } from '../src/client/exitCodes.js';
import { ConfigError } from '../src/config/errors.js';
import { parseWorkerOps } from '../src/config/workerOps.js';
import { createLogger, jsonLine, REDACTED } from '../src/worker/logging.js';
import { freePort } from '../src/temporal/ports.js';
import { runCli } from './support/cli.js';

describe('worker process settings', () => {
  it('takes each setting from its option, else its variable, else the default', () => {
    expect(parseWorkerOps({}, {}, false)).toEqual({ logFormat: 'json', logLevel: 'INFO', shutdownGraceSeconds: 30, censusIntervalSeconds: 60 });
    expect(parseWorkerOps({}, {}, true).logFormat).toBe('text');
    const env = { LATENT_WORKER_METRICS_ADDRESS: '0.0.0.0:9464', LATENT_WORKER_HEALTH_ADDRESS: '8080', LATENT_WORKER_LOG_LEVEL: 'debug', LATENT_WORKER_SHUTDOWN_GRACE: '45', LATENT_WORKER_CENSUS_INTERVAL: '15' };
    expect(parseWorkerOps({}, env, false)).toEqual({
      metrics: { host: '0.0.0.0', port: 9464, hostPort: '0.0.0.0:9464' },
      health: { host: '127.0.0.1', port: 8080, hostPort: '127.0.0.1:8080' },
      logFormat: 'json',
      logLevel: 'DEBUG',
      shutdownGraceSeconds: 45,
      censusIntervalSeconds: 15,
    });
    const overridden = parseWorkerOps({ metricsAddress: '[::1]:9500', shutdownGrace: '0', logFormat: 'text', censusInterval: '0' }, env, false);
    expect(overridden).toMatchObject({ metrics: { host: '::1', port: 9500, hostPort: '[::1]:9500' }, shutdownGraceSeconds: 0, logFormat: 'text', censusIntervalSeconds: 0 });
  });

  it.each([
    [{ metricsAddress: 'localhost:9464' }, '--metrics-address (or LATENT_WORKER_METRICS_ADDRESS) must be PORT or IP:PORT'],
    [{ healthAddress: '127.0.0.1:70000' }, '--health-address (or LATENT_WORKER_HEALTH_ADDRESS) must be PORT or IP:PORT'],
    [{ healthAddress: '::1:8080' }, '--health-address (or LATENT_WORKER_HEALTH_ADDRESS) must be PORT or IP:PORT'],
    [{ logFormat: 'xml' }, '--log-format (or LATENT_WORKER_LOG_FORMAT) must be one of json, text'],
    [{ logLevel: 'loud' }, '--log-level (or LATENT_WORKER_LOG_LEVEL) must be one of TRACE, DEBUG, INFO, WARN, ERROR'],
    [{ shutdownGrace: '-1' }, '--shutdown-grace (or LATENT_WORKER_SHUTDOWN_GRACE) must be a number of seconds, 0 or more'],
    [{ shutdownGrace: '7200' }, '--shutdown-grace (or LATENT_WORKER_SHUTDOWN_GRACE) must be at most 3600 seconds'],
    [{ censusInterval: 'hourly' }, '--census-interval (or LATENT_WORKER_CENSUS_INTERVAL) must be a number of seconds (0 turns the census off)'],
    [{ censusInterval: '100000' }, '--census-interval (or LATENT_WORKER_CENSUS_INTERVAL) must be at most 86400 seconds'],
    [{ metricsAddress: '9464', healthAddress: '0.0.0.0:9464' }, 'must use different ports, both are 9464'],
  ])('refuses %o, naming the option and what is valid', (options, message) => {
    expect(() => parseWorkerOps(options, {}, false)).toThrow(ConfigError);
    expect(() => parseWorkerOps(options, {}, false)).toThrow(message);
  });

  it('refuses a bad setting from the command line before connecting anywhere, with the usage exit code', async () => {
    const result = await runCli(['worker', '--metrics-address', 'localhost:9464'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('--metrics-address (or LATENT_WORKER_METRICS_ADDRESS) must be PORT or IP:PORT');
  });

  it('exits with an error, not hangs, when it cannot start', async () => {
    // Its health port taken: the start fails after Temporal's runtime is up but before any connection.
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const startedAt = Date.now();
      const result = await runCli(['--config', 'examples/seed-simplest.yaml', 'worker', '--no-reaper', '--metrics-address', String(await freePort()), '--health-address', String((taken.address() as net.AddressInfo).port)], {
        TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      });
      expect(result.code).toBe(EXIT.failure);
      expect(result.stderr).toContain('EADDRINUSE');
      expect(Date.now() - startedAt).toBeLessThan(30_000);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('worker log lines', () => {
  const entry = (meta: Record<string, unknown>) => ({ level: 'WARN' as const, message: 'Activity failed', timestampNanos: 1_700_000_000_123_000_000n, meta });

  it('are one JSON object with time, level, message and the context, secrets redacted at any depth', () => {
    const cause = new Error('socket hang up');
    const failure = ApplicationFailure.create({ message: 'no answer', type: 'OpenStackTimeout', cause });
    const line = jsonLine(
      entry({ sdkComponent: 'activity', workflowId: 'latent-worker:bot2', workflowRunId: 'run-1', serverId: 'srv-1', taskToken: 'dG9rZW4=', error: failure, request: { headers: { 'X-Auth-Token': 'gAAAA-secret' }, size: 12n } }),
    );
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2023-11-14T22:13:20.123Z',
      level: 'warn',
      message: 'Activity failed',
      component: 'activity',
      workflowId: 'latent-worker:bot2',
      runId: 'run-1',
      serverId: 'srv-1',
      taskToken: REDACTED,
      error: { name: 'ApplicationFailure', message: 'no answer', type: 'OpenStackTimeout', cause: { name: 'Error', message: 'socket hang up' } },
      request: { headers: { 'X-Auth-Token': REDACTED }, size: '12' },
    });
  });

  it('drop what is below the level, and read as text on a terminal', () => {
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', level: 'INFO', write: (line) => lines.push(line) });
    logger.debug('not shown');
    logger.info('phase booting', { workflowId: 'latent-worker:bot2', serverId: 'srv-1', note: 'two words' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}phase booting workflowId=latent-worker:bot2 serverId=srv-1 note="two words"\n$/);
  });
});
