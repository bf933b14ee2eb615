#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/load.js';
import { UnknownLifecycleError } from './api.js';
import { attachedCommand, buildFinishedCommand, buildStartedCommand, releaseCommand } from './commands/signals.js';
import { codecServerCommand } from './commands/codecServer.js';
import { devCommand } from './commands/dev.js';
import { reapCommand } from './commands/reap.js';
import { statusCommand } from './commands/status.js';
import { substantiateCommand } from './commands/substantiate.js';
import { validateCommand } from './commands/validate.js';
import { watchCommand } from './commands/watch.js';
import { workerCommand } from './commands/worker.js';
import { EXIT } from './exitCodes.js';
import { describeError } from './failures.js';

const program = new Command('latent-worker')
  .description('On-demand OpenStack build machines for CI masters, as durable Temporal workflows.')
  .option('-c, --config <file>', 'worker definitions (default: $LATENT_WORKER_CONFIG or ./latent.config.{yaml,yml,json,mjs,js})')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(workerCommand());
program.addCommand(devCommand());
program.addCommand(substantiateCommand());
program.addCommand(attachedCommand());
program.addCommand(buildStartedCommand());
program.addCommand(buildFinishedCommand());
program.addCommand(releaseCommand());
program.addCommand(statusCommand());
program.addCommand(watchCommand());
program.addCommand(validateCommand());
program.addCommand(codecServerCommand());
program.addCommand(reapCommand());

// addCommand does not pass exitOverride on: without this a bad option would exit 1, not 2.
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

function report(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof ConfigError || error instanceof InvalidArgumentError) {
    console.error(`latent-worker: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof UnknownLifecycleError) {
    console.error(`latent-worker: ${error.message}`);
    return EXIT.notFound;
  }
  console.error(`latent-worker: ${describeError(error)}`);
  return EXIT.failure;
}
