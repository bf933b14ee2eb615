import { Command, InvalidArgumentError } from 'commander';
import { codecFromEnv, KEY_VARIABLE, KEYS_VARIABLE } from '../../codec/index.js';
import { startCodecServer } from '../../codec/server.js';
import { ConfigError } from '../../config/errors.js';

interface CodecServerOptions {
  port: number;
  host: string;
  origin?: string[];
}

const DEFAULT_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];

export function codecServerCommand(): Command {
  return new Command('codec-server')
    .description(`decrypt payloads for the Temporal Web UI (temporal server start-dev --ui-codec-endpoint URL), with the keys of $${KEYS_VARIABLE} / $${KEY_VARIABLE}`)
    .option('--port <port>', 'port to listen on (0: any free port)', parsePort, 8888)
    .option('--host <host>', 'address to listen on: anyone who can reach it can decrypt payloads', '127.0.0.1')
    .option('--origin <url>', `a Web UI origin allowed to call it (repeatable; default ${DEFAULT_ORIGINS.join(' and ')})`, collectOrigin)
    .action(async (options: CodecServerOptions) => {
      const codec = codecFromEnv();
      if (!codec) throw new ConfigError(`no keys: set ${KEYS_VARIABLE} (id:base64key,...) or ${KEY_VARIABLE} to the keys the worker encrypts with`);
      const origins = options.origin ?? DEFAULT_ORIGINS;
      const server = await startCodecServer({ codec, port: options.port, host: options.host, origins, onError: (line) => console.error(`codec-server: ${line}`) });
      console.log(`codec-server: listening on ${server.url} (keys ${codec.keyIds.map((id) => `"${id}"`).join(', ')}; origins ${origins.join(', ')})`);
      console.log(`codec-server: temporal server start-dev --ui-codec-endpoint ${server.url}   (or: latent-worker dev --codec-endpoint ${server.url})`);
      await untilSignal();
      await server.close();
    });
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`--port must be 0-65535, got "${value}"`);
  return port;
}

function collectOrigin(value: string, previous: string[] | undefined): string[] {
  let origin: string;
  try {
    origin = new URL(value).origin;
  } catch {
    throw new InvalidArgumentError(`--origin must be a URL such as http://127.0.0.1:8233, got "${value}"`);
  }
  return [...(previous ?? []), origin];
}
