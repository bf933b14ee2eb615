import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultTuning, resolveTuning, workerOptionsFor } from '../src/worker/tuning.js';
import { runCli } from './support/cli.js';

describe('worker tuning', () => {
  it('takes flags over LATENT_WORKER_* variables over the defaults', () => {
    const env = { LATENT_WORKER_MAX_CONCURRENT_ACTIVITIES: '300', LATENT_WORKER_MAX_CACHED_WORKFLOWS: '50' };
    const tuning = resolveTuning({ maxCachedWorkflows: '70' }, env);
    expect(tuning).toEqual({ ...defaultTuning, maxConcurrentActivityTaskExecutions: 300, maxCachedWorkflows: 70 });
    expect(workerOptionsFor(tuning)).toMatchObject({
      maxCachedWorkflows: 70,
      maxConcurrentActivityTaskExecutions: 300,
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: defaultTuning.activityTaskPollers },
    });
  });

  it('gives the workflow threads to the SDK, from the flag or LATENT_WORKER_WORKFLOW_THREADS', () => {
    expect(workerOptionsFor(resolveTuning({}, { LATENT_WORKER_WORKFLOW_THREADS: '2' }))).toMatchObject({ workflowThreadPoolSize: 2 });
    expect(workerOptionsFor(resolveTuning({ workflowThreads: '3' }, { LATENT_WORKER_WORKFLOW_THREADS: '2' }))).toMatchObject({ workflowThreadPoolSize: 3 });
    expect(workerOptionsFor(defaultTuning)).toMatchObject({ workflowThreadPoolSize: defaultTuning.workflowThreads });
    expect(() => resolveTuning({ workflowThreads: '0' }, {})).toThrow('--workflow-threads: must be an integer from 1 to 16, got "0"');
  });

  it('names the flag or variable of a bad value and what is valid', () => {
    expect(() => resolveTuning({ maxConcurrentActivities: 'lots' }, {})).toThrow('--max-concurrent-activities: must be an integer from 1 to 1000000, got "lots"');
    expect(() => resolveTuning({}, { LATENT_WORKER_WORKFLOW_POLLERS: '1' })).toThrow('LATENT_WORKER_WORKFLOW_POLLERS: must be an integer from 2 to 1000, got "1"');
    expect(() => resolveTuning({ activityPollers: '50', maxConcurrentActivities: '10' }, {})).toThrow('activity pollers (50) may not exceed concurrent activities (10)');
  });

  it('says the same default in `worker --help`, the README and docs/benchmark.md as src/worker/tuning.ts', async () => {
    const help = await runCli(['worker', '--help'], {});
    const activities = defaultTuning.maxConcurrentActivityTaskExecutions;
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(new RegExp(`--max-concurrent-activities <n>.*default:? ${activities}\\b`));
    const readme = readFileSync('README.md', 'utf8').replace(/\s+/g, ' ');
    expect(readme).toContain(`LATENT_WORKER_MAX_CONCURRENT_ACTIVITIES\`, default ${activities},`);
    expect(readme).not.toMatch(/maxConcurrentActivities` of `createLatentWorker`, default \d+/);
    expect(readFileSync('docs/benchmark.md', 'utf8')).toContain(`| \`--max-concurrent-activities\` | \`LATENT_WORKER_MAX_CONCURRENT_ACTIVITIES\` | ${activities} |`);
    const census = defaultTuning.fleetCensusSeconds;
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(new RegExp(`--fleet-census-interval <n>.*default:? ${census}\\b`));
    expect(readme).toContain(`\`LATENT_WORKER_FLEET_CENSUS_INTERVAL\`, default ${census})`);
    expect(readFileSync('docs/benchmark.md', 'utf8')).toContain(`| \`--fleet-census-interval\` | \`LATENT_WORKER_FLEET_CENSUS_INTERVAL\` | ${census} |`);
    expect(readFileSync('docs/operations.md', 'utf8').replace(/\s+/g, ' ')).toContain(`every \`--fleet-census-interval\` seconds, ${census} by default`);
  });

  it('the worker command refuses a bad tuning value before it connects anywhere, naming the flag', async () => {
    // Port 1 has nothing listening: reaching Temporal would be another error.
    const result = await runCli(['--config', 'examples/seed-simplest.yaml', 'worker', '--no-reaper', '--max-concurrent-activities', '0'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--max-concurrent-activities: must be an integer from 1 to 1000000, got "0"');
  });
});
