#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/load.js';
import { LifecycleEndedError, UnknownLifecycleError } from './api.js';
import { bundleWorkflowsCommand } from './commands/bundleWorkflows.js';
import { attachedCommand, buildFinishedCommand, buildStartedCommand, releaseCommand } from './commands/signals.js';
import { codecServerCommand } from './commands/codecServer.js';
import { devCommand } from './commands/dev.js';
import { reapCommand } from './commands/reap.js';
import { sealingKeyCommand } from './commands/sealingKey.js';
import { setupCommand } from './commands/setup.js';
import { statusCommand } from './commands/status.js';
import { substantiateCommand } from './commands/substantiate.js';
import { validateCommand } from './commands/validate.js';
import { watchCommand } from './commands/watch.js';
import { workerCommand } from './commands/worker.js';
import { EXIT } from './exitCodes.js';
import { describeError, errorKind, innermostMessage } from './failures.js';
import { ConnectionSettingError } from './settings.js';

// With JSON errors, commander's own usage message becomes the JSON's; otherwise it prints it as usual.
let usageMessage: string | undefined;
const jsonErrors = wantsJson(process.argv);

const program = new Command('latent-worker')
  .description('On-demand OpenStack build machines for CI masters, as durable Temporal workflows.')
  .option('-c, --config <file>', 'worker definitions (default: $LATENT_WORKER_CONFIG or ./latent.config.{yaml,yml,json,mjs,js})')
  .addOption(new Option('-o, --output <format>', 'output format, as Temporal\'s CLI: json is the same as each command\'s --json (errors too, on stderr)').choices(['text', 'json']))
  // Temporal's own connection settings, named as its CLI names them; each overrides its TEMPORAL_* variable and the profile.
  .option('--address <host:port>', 'Temporal service gRPC endpoint (TEMPORAL_ADDRESS; default localhost:7233)')
  .option('-n, --namespace <namespace>', 'Temporal namespace (TEMPORAL_NAMESPACE; default default)')
  .option('--profile <name>', 'profile of the Temporal config file (TEMPORAL_PROFILE; default default)')
  .option('--config-file <file>', 'Temporal config file, temporal.toml (TEMPORAL_CONFIG_FILE; default ~/.config/temporalio/temporal.toml)')
  .option('--api-key <key>', 'API key, sent as a bearer token (TEMPORAL_API_KEY); turns TLS on')
  .option('--tls', 'use TLS (TEMPORAL_TLS); on by itself when an API key or any TLS setting is given')
  .option('--tls-cert-path <file>', 'client certificate for mutual TLS (TEMPORAL_TLS_CLIENT_CERT_PATH)')
  .option('--tls-cert-data <pem>', 'client certificate, inline (TEMPORAL_TLS_CLIENT_CERT_DATA)')
  .option('--tls-key-path <file>', 'client private key for mutual TLS (TEMPORAL_TLS_CLIENT_KEY_PATH)')
  .option('--tls-key-data <pem>', 'client private key, inline (TEMPORAL_TLS_CLIENT_KEY_DATA)')
  .option('--tls-ca-path <file>', 'CA certificate the server\'s is checked against (TEMPORAL_TLS_SERVER_CA_CERT_PATH; default the system\'s)')
  .option('--tls-ca-data <pem>', 'server CA certificate, inline (TEMPORAL_TLS_SERVER_CA_CERT_DATA)')
  .option('--tls-server-name <name>', 'name expected in the server\'s certificate (TEMPORAL_TLS_SERVER_NAME)')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(workerCommand());
program.addCommand(setupCommand());
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
program.addCommand(sealingKeyCommand());
program.addCommand(bundleWorkflowsCommand());

for (const command of [program, ...program.commands]) {
  // addCommand does not pass exitOverride on: without this a bad option would exit 1, not 2.
  command.exitOverride();
  if (jsonErrors) command.configureOutput({ outputError: (message) => (usageMessage ??= message.replace(/^error: /, '').trim()), writeErr: () => {} });
}

// `-o json` is each command's --json.
program.hook('preAction', (_program, action) => {
  if (program.opts<{ output?: string }>().output === 'json' && action.options.some((option) => option.long === '--json')) action.setOptionValue('json', true);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

/** How an error is reported: one line on stderr, or with --json / -o json one JSON object there. */
interface ErrorReport {
  /** Stable for scripts: usage, config, connection-setting, not-found, or a Temporal/cloud class (see ErrorKind). */
  kind: string;
  /** The whole line a person reads. */
  message: string;
  /** The innermost cause, as Temporal or the cloud said it. */
  cause: string;
  exitCode: number;
}

function report(error: unknown): number {
  const described = describe(error);
  if (described.kind === 'help') return EXIT.ok;
  if (jsonErrors) console.error(JSON.stringify({ error: described }));
  // commander has printed its usage message already.
  else if (described.kind !== 'usage') console.error(`latent-worker: ${described.message}`);
  return described.exitCode;
}

function describe(error: unknown): ErrorReport {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return { kind: 'help', message: '', cause: '', exitCode: EXIT.ok };
    const message = usageMessage ?? error.message.replace(/^error: /, '');
    return { kind: 'usage', message, cause: message, exitCode: EXIT.usage };
  }
  if (error instanceof ConfigError || error instanceof InvalidArgumentError) return { kind: 'config', message: error.message, cause: error.message, exitCode: EXIT.usage };
  if (error instanceof ConnectionSettingError) return { kind: 'connection-setting', message: error.message, cause: error.message, exitCode: EXIT.usage };
  if (error instanceof UnknownLifecycleError || error instanceof LifecycleEndedError) return { kind: 'not-found', message: error.message, cause: error.message, exitCode: EXIT.notFound };
  return { kind: errorKind(error), message: describeError(error), cause: innermostMessage(error), exitCode: EXIT.failure };
}

/** --json anywhere, or -o/--output json: read from the words themselves, since parsing itself may be what failed. */
function wantsJson(argv: string[]): boolean {
  return argv.some((word, i) => word === '--json' || word === '--output=json' || word === '-ojson' || ((word === '-o' || word === '--output') && argv[i + 1] === 'json'));
}
