import { Command, InvalidArgumentError } from 'commander';
import { EXIT } from '../exitCodes.js';
import { describeSetup, ensureSetup, type SetupReport } from '../setup.js';
import { printJson, settingsFor, withClient } from './common.js';

export function setupCommand(): Command {
  return new Command('setup')
    .description('make sure the namespace exists and the search attributes the lifecycle writes are registered; where this connection may not, print what to run')
    .option('--check', 'only check: change nothing (exit 1 when something is missing)')
    .option('--retention-days <days>', 'retention of the namespace, if this creates it', parseDays, 3)
    .option('--json', 'print the report as JSON')
    .action(async (options: { check?: boolean; retentionDays: number; json?: boolean }, command: Command) => {
      const settings = settingsFor(command);
      const report = await withClient(command, (client) =>
        ensureSetup(client.temporal.connection, { namespace: settings.namespace, address: settings.address, apply: !options.check, retentionDays: options.retentionDays }),
      );
      if (options.json) printJson(report);
      else printReport(report);
      if (!report.ready || report.todo.length > 0) process.exitCode = EXIT.failure;
    });
}

function printReport(report: SetupReport): void {
  const namespace = { exists: 'exists', created: 'created', missing: 'MISSING' }[report.namespaceState];
  console.log(`namespace ${report.namespace}: ${namespace}`);
  for (const attribute of report.attributes) console.log(`search attribute ${attribute.name} (${attribute.type}): ${attribute.state}`);
  for (const problem of report.problems) console.log(`problem: ${problem}`);
  if (report.todo.length > 0) {
    console.log('someone with the rights must run:');
    for (const line of report.todo) console.log(`  ${line}`);
  }
  console.log(describeSetup(report));
}

function parseDays(value: string): number {
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1) throw new InvalidArgumentError(`--retention-days must be a whole number of days, 1 or more, got "${value}"`);
  return days;
}
