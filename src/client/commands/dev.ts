import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { dataConverterFromEnv, describeEncryption } from '../../codec/index.js';
import { CONFIG_FILE_NAMES, findConfigFile, loadConfigFile, parseConfig, type LoadedConfig } from '../../config/load.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { startDevServer } from '../../temporal/devServer.js';
import { projectRoot } from '../../temporal/paths.js';
import { connectWorker, createLatentWorker } from '../../worker/worker.js';
import { LatentWorkerClient } from '../api.js';
import { DEFAULT_TASK_QUEUE } from '../../contract/names.js';
import { describeStatus } from '../format.js';
import { SEED_SIMPLEST_EXAMPLE } from '../../config/seedExample.js';

interface DevOptions {
  port: string;
  uiPort: string;
  demo: boolean;
  bootDelayMs: string;
  codecEndpoint?: string;
}

/** The seed document's simplest example, pointed at the simulator's Keystone v2.0. */
function seedExample(simulator: Simulator) {
  return { ...SEED_SIMPLEST_EXAMPLE, os_auth_url: simulator.authUrlV2 };
}

export function devCommand(): Command {
  return new Command('dev')
    .description('run it all locally: a Temporal dev server with its Web UI, the worker, the OpenStack simulator when no cloud is configured, and a demo lifecycle')
    .option('--port <port>', 'Temporal gRPC port', '7233')
    .option('--ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--boot-delay-ms <ms>', "simulator: how long a server stays in BUILD", '2000')
    .option('--no-demo', 'do not run the demo lifecycle')
    .option('--codec-endpoint <url>', 'codec server the Web UI decrypts payloads with (see `latent-worker codec-server`)')
    .action(async (options: DevOptions, command: Command) => {
      const say = (line: string): void => console.log(`[dev] ${line}`);
      // First, so that a malformed key stops dev before anything is started.
      const dataConverter = dataConverterFromEnv();
      const explicit = command.optsWithGlobals<{ config?: string }>().config;
      let simulator: Simulator | undefined;
      let config: LoadedConfig;
      let configPath: string;
      try {
        configPath = findConfigFile(explicit);
        config = await loadConfigFile(configPath);
        say(`using the clouds of ${configPath}: lifecycles boot REAL servers there`);
      } catch (error) {
        if (explicit || process.env.LATENT_WORKER_CONFIG) throw error;
        simulator = await startSimulator({ bootDelayMs: Number(options.bootDelayMs) });
        announceSimulator(simulator);
        const raw = { workers: [seedExample(simulator)] };
        config = parseConfig(raw, 'the built-in dev config');
        configPath = writeDevConfig(raw);
      }

      // A demo should read as the lines it prints: the SDK's own INFO chatter (bundling, worker
      // state) and its context dumps stay out; warnings still show, one line each.
      Runtime.install({ logger: new DefaultLogger('WARN', ({ level, message }) => console.error(`[${level.toLowerCase()}] ${message}`)) });
      const server = await startDevServer({ port: Number(options.port), ui: true, uiPort: Number(options.uiPort), uiCodecEndpoint: options.codecEndpoint });
      say(`Temporal dev server on ${server.address}, Web UI at ${server.uiUrl}`);
      say(describeEncryption(dataConverter) + (dataConverter && !options.codecEndpoint ? ': to read payloads in the Web UI, run `latent-worker codec-server` and pass --codec-endpoint http://127.0.0.1:8888' : ''));
      const connection = await connectWorker(server.address);
      const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue: DEFAULT_TASK_QUEUE, config, dataConverter });
      const running = worker.run();
      say(`worker polling task queue ${DEFAULT_TASK_QUEUE}`);

      const clientConnection = await Connection.connect({ address: server.address });
      const client = new LatentWorkerClient(new Client({ connection: clientConnection, dataConverter }), DEFAULT_TASK_QUEUE);
      try {
        if (simulator && options.demo) await runDemo(client, config, server.uiUrl ?? '', say);
        say('ready. From another terminal:');
        say(`  export TEMPORAL_ADDRESS=${server.address}`);
        say(`  npx latent-worker --config ${configPath} substantiate bot2 --wait done`);
        say('Ctrl-C stops everything.');
        await running;
      } catch (error) {
        worker.shutdown();
        await running;
        throw error;
      } finally {
        await clientConnection.close();
        await clouds.close();
        await connection.close();
        await server.stop();
        await simulator?.close();
        say('stopped');
      }
    });
}

/** Plays the CI master's part for one lifecycle of the seed's example, saying so at each step. */
async function runDemo(client: LatentWorkerClient, config: LoadedConfig, uiUrl: string, say: (line: string) => void): Promise<void> {
  const spec = config.workers.get('bot2')!.specFor();
  const handle = await client.substantiate(spec, { properties: { reason: 'latent-worker dev demo' } });
  say(`demo: substantiating ${spec.name} (workflow ${handle.workflowId})`);
  say(`demo: watch it at ${uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}/${handle.firstExecutionRunId}/history`);
  let lastPhase = '';
  let attachedSent = false;
  let releaseSent = false;
  for (;;) {
    const status = await client.status(spec.name);
    if (status.phase !== lastPhase) say(`demo: ${describeStatus(status)}`);
    lastPhase = status.phase;
    if (status.phase === 'waiting-for-attach' && !attachedSent) {
      say('demo: playing the CI master: the server is ACTIVE, so I send "attached" as if its CI worker connected');
      await client.attached(spec.name);
      attachedSent = true;
    }
    if (status.phase === 'attached' && !releaseSent) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      say('demo: playing the CI master: the builds are done, so I send "release"');
      await client.release(spec.name);
      releaseSent = true;
    }
    if (status.phase === 'done') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const result = await handle.result();
  say(`demo: lifecycle finished with outcome "${result.outcome}"; server ${result.serverId} deleted`);
}

function announceSimulator(simulator: Simulator): void {
  const bar = '!'.repeat(78);
  console.log([bar, '!! NO CLOUD CONFIGURED: using the built-in OpenStack SIMULATOR', `!!   ${simulator.url} (Keystone, Nova, Glance)`, `!! Nothing is booted on a real cloud. To use one, create ${CONFIG_FILE_NAMES[0]}`, '!! (see README) or pass --config FILE.', bar].join('\n'));
}

/** So that `latent-worker substantiate` in another terminal can find the dev worker definitions. */
function writeDevConfig(raw: unknown): string {
  const directory = join(projectRoot, '.scratch', 'dev');
  mkdirSync(directory, { recursive: true });
  const path = join(directory, 'latent.config.yaml');
  writeFileSync(path, `# Written by \`latent-worker dev\`: the seed's simplest example, pointed at the simulator.\n${stringify(raw)}`);
  return path;
}
