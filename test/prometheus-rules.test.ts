import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/temporal/paths.js';
import { FAILURE_TYPES } from '../src/contract/names.js';
import { LAUNCH_RESULTS, METRIC_NAMES } from '../src/workflows/metricNames.js';
import { PROMTOOL } from './support/prometheusServer.js';

// deploy/prometheus/rules.yml checked by Debian's promtool: the syntax and PromQL of every rule
// (`check rules`), and when each alert fires (`test rules`, deploy/prometheus/rules.test.yml).
// test/dashboard.test.ts evaluates the same rules in a real Prometheus on a real worker's metrics.

const run = promisify(execFile);
const DIR = path.join(projectRoot, 'deploy', 'prometheus');
const RULES = path.join(DIR, 'rules.yml');
const TESTS = path.join(DIR, 'rules.test.yml');
const scratch = mkdtempSync(path.join(tmpdir(), 'rules-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  if (!existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} is missing: install Debian's prometheus package (apt-get install prometheus), as .ci/run does`);
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { cwd: DIR, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('the Prometheus rules', () => {
  it('pass promtool check rules', async () => {
    const result = await promtool('check', 'rules', RULES);
    console.log(`promtool check rules ${path.relative(projectRoot, RULES)}:\n${result.output}`);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their unit tests (promtool test rules)', async () => {
    const result = await promtool('test', 'rules', TESTS);
    console.log(`promtool test rules ${path.relative(projectRoot, TESTS)}:\n${result.output}`);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('have unit tests that fail when an alert is wrong', async () => {
    // The same tests against rules whose missing-worker alert looks at the wrong outcome.
    const broken = readFileSync(RULES, 'utf8').replace('outcome="missing"', 'outcome="failed"');
    expect(broken).not.toBe(readFileSync(RULES, 'utf8'));
    writeFileSync(path.join(scratch, 'rules.yml'), broken);
    copyFileSync(TESTS, path.join(scratch, 'rules.test.yml'));
    const result = await promtool('test', 'rules', path.join(scratch, 'rules.test.yml'));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('alertname: LatentWorkerMissingWorkers');
  });

  it('have a unit test for every alert, and name only metrics the worker exports', () => {
    const rules = readFileSync(RULES, 'utf8');
    const tests = readFileSync(TESTS, 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((match) => match[1]!);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const alert of alerts) expect(tests, alert).toContain(`alertname: ${alert}`);
    const exported = new Set(Object.values(METRIC_NAMES).flatMap((name) => [name, `${name}_total`, `${name}_bucket`]));
    const used = new Set([...rules.matchAll(/\blatent_worker_[a-z_]+/g)].map((match) => match[0]));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('can tell each way a launch fails by its result label', () => {
    const launchFailures = [
      FAILURE_TYPES.serverError,
      FAILURE_TYPES.bootTimeout,
      FAILURE_TYPES.serverVanished,
      FAILURE_TYPES.serverQuotaExceeded,
      FAILURE_TYPES.openStackQuotaExceeded,
      FAILURE_TYPES.blockDeviceSourceNotFound,
      FAILURE_TYPES.createSlotTimeout,
    ];
    for (const type of launchFailures) expect(LAUNCH_RESULTS[type], type).toMatch(/^error\.[a-z_]+$/);
    expect(LAUNCH_RESULTS[FAILURE_TYPES.bootTimeout]).toBe('error.boot_timeout');
    expect(LAUNCH_RESULTS[FAILURE_TYPES.serverQuotaExceeded]).toBe('error.quota');
  });
});
