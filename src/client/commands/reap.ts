import { Command, InvalidArgumentError } from 'commander';
import type { ReaperReport } from '../../workflows/reaper.js';
import { EXIT } from '../exitCodes.js';
import { reapOnce } from '../reaper.js';
import { loadConfig, printJson, settingsFor, withClient } from './common.js';

export function reapCommand(): Command {
  return new Command('reap')
    .description("run the orphan reaper once: delete this deployment's servers that no running lifecycle owns (a running worker does the work)")
    .option('--dry-run', 'report the orphans, delete nothing')
    .option('--grace <seconds>', 'keep servers younger than this (default: the config\'s reaper.graceSeconds)', parseGrace)
    .option('--json', 'print the report as JSON')
    // addCommand() does not pass the program's exitOverride on: without it a bad option exits 1, not the usage code.
    .exitOverride()
    .action(async (options: { dryRun?: boolean; grace?: number; json?: boolean }, command: Command) => {
      const config = await loadConfig(command);
      const report = await withClient(command, (client) =>
        reapOnce(client.temporal, {
          deployment: config.deployment,
          taskQueue: settingsFor(command).taskQueue,
          graceSeconds: options.grace ?? config.reaper.graceSeconds,
          dryRun: options.dryRun ?? false,
        }),
      );
      if (options.json) printJson(report);
      else printReport(report);
      // Whatever could not be listed or deleted is still there: scripts must be able to tell.
      if (report.failed.length > 0 || report.unlisted.length > 0) process.exitCode = EXIT.failure;
    });
}

function printReport(report: ReaperReport): void {
  const done = report.dryRun ? 'dry run, nothing deleted' : `${report.deleted.length} deleted`;
  console.log(`deployment ${report.deployment}: ${report.scanned} server(s) scanned, ${report.kept} kept, ${report.orphans.length} orphan(s), ${done}`);
  const deleted = new Set(report.deleted.map((orphan) => orphan.serverId));
  const failed = new Map(report.failed.map((orphan) => [orphan.serverId, orphan.error]));
  for (const orphan of report.orphans) {
    const outcome = report.dryRun ? 'would delete' : deleted.has(orphan.serverId) ? 'deleted' : `NOT deleted (${failed.get(orphan.serverId) ?? 'unknown error'})`;
    console.log(`orphan ${orphan.name} ${orphan.serverId}: ${outcome}: ${orphan.reason}`);
  }
  for (const { cloud, error } of report.unlisted) console.log(`could not list the servers of ${cloud}: ${error}`);
  for (const server of report.foreign ?? []) {
    console.log(`kept ${server.name} ${server.serverId}: ${server.reason}; another installation may use deployment ${report.deployment} (give each its own), or its history is past retention (delete it by hand)`);
  }
}

function parseGrace(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) throw new InvalidArgumentError(`--grace must be a number of seconds, 0 or more, got "${value}"`);
  return seconds;
}
