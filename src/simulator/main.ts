// Standalone simulator: `tsx src/simulator/main.ts [--port N] [--boot-delay-ms N] [--no-identity-v2]
// [--nova-congestion real-here|KxMS] [--quota-instances N] ...`. Faults, quotas and tokens can then be driven over HTTP at /_sim
// (see control.ts), e.g. by a chaos test or the benchmark through SimulatorControl.
import { parseArgs } from 'node:util';
import { parseNovaCongestion, startSimulator } from './index.js';

function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}, got '${value}'`);
  return n;
}
const nonNegativeInt = (name: string, value: string | undefined) => integer(name, value, 0);
// Nova's convention: -1 is unlimited.
const quotaLimit = (name: string, value: string | undefined) => integer(name, value, -1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'boot-delay-ms': { type: 'string' },
      'delete-delay-ms': { type: 'string' },
      'schedule-delay-ms': { type: 'string' },
      // off, a preset (which brings its own boot and scheduling delays unless given) or KxMS.
      'nova-congestion': { type: 'string' },
      // Answer like Zed and later, which have no Keystone v2.0.
      'no-identity-v2': { type: 'boolean' },
      'quota-instances': { type: 'string' },
      'quota-cores': { type: 'string' },
      'quota-ram': { type: 'string' },
    },
  });
  const { congestion, preset } = parseNovaCongestion(values['nova-congestion'] ?? 'off');
  const sim = await startSimulator({
    port: nonNegativeInt('port', values.port),
    host: values.host,
    bootDelayMs: nonNegativeInt('boot-delay-ms', values['boot-delay-ms']) ?? preset?.bootDelayMs,
    deleteDelayMs: nonNegativeInt('delete-delay-ms', values['delete-delay-ms']),
    scheduleDelayMs: nonNegativeInt('schedule-delay-ms', values['schedule-delay-ms']) ?? preset?.scheduleDelayMs,
    novaCongestion: congestion ?? undefined,
    identityV2: !values['no-identity-v2'],
    quota: {
      instances: quotaLimit('quota-instances', values['quota-instances']),
      cores: quotaLimit('quota-cores', values['quota-cores']),
      ram: quotaLimit('quota-ram', values['quota-ram']),
    },
  });
  process.stdout.write(
    [
      `OpenStack simulator listening on ${sim.url}`,
      `  OS_AUTH_URL (v3)   ${sim.authUrlV3}`,
      values['no-identity-v2'] ? '  (no identity v2.0, as on Zed)' : `  OS_AUTH_URL (v2.0) ${sim.authUrlV2}`,
      `  compute            ${sim.url}/compute/v2.1`,
      `  image              ${sim.url}/image`,
      '  users: admin/admin (project admin), demo/demo (project demo), user/password (project tenant)',
      `  fault injection    ${sim.controlUrl}/faults (routes: ${sim.controlUrl}/routes)`,
      `  Nova congestion    ${congestion ? `${congestion.workers} build slot(s) of ${congestion.buildMs} ms` : 'off'} (${sim.controlUrl}/nova/congestion)`,
      '',
    ].join('\n'),
  );
  const stop = (signal: NodeJS.Signals): void => {
    process.stdout.write(`${signal}: stopping\n`);
    sim.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
