// Standalone simulator: `tsx src/simulator/main.ts [--port N] [--boot-delay-ms N]`.
import { parseArgs } from 'node:util';
import { startSimulator } from './index.js';

function nonNegativeInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'boot-delay-ms': { type: 'string' },
      'delete-delay-ms': { type: 'string' },
    },
  });
  const sim = await startSimulator({
    port: nonNegativeInt('port', values.port),
    host: values.host,
    bootDelayMs: nonNegativeInt('boot-delay-ms', values['boot-delay-ms']),
    deleteDelayMs: nonNegativeInt('delete-delay-ms', values['delete-delay-ms']),
  });
  process.stdout.write(
    [
      `OpenStack simulator listening on ${sim.url}`,
      `  OS_AUTH_URL (v3)   ${sim.authUrlV3}`,
      `  OS_AUTH_URL (v2.0) ${sim.authUrlV2}`,
      `  compute            ${sim.url}/compute/v2.1`,
      `  image              ${sim.url}/image`,
      '  users: admin/admin (project admin), demo/demo (project demo), user/password (project tenant)',
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
