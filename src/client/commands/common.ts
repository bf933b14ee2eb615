import type { Command } from 'commander';
import { findConfigFile, loadConfigFile, type LoadedConfig } from '../../config/load.js';
import { LatentWorkerClient } from '../api.js';
import { temporalSettings, type ConnectionFlags, type TemporalSettings } from '../settings.js';

/** The config file named by the global --config option, or found the usual way. */
export async function loadConfig(command: Command): Promise<LoadedConfig> {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  return loadConfigFile(findConfigFile(config));
}

/** The Temporal service to use: its profile and TEMPORAL_* variables, under this command's connection flags. */
export function settingsFor(command: Command): TemporalSettings {
  return temporalSettings(process.env, command.optsWithGlobals<ConnectionFlags>());
}

/**
 * Runs `action` with a client connected as `settingsFor(command)`, closing the connection after;
 * `definitions` let it substantiate workers by name.
 */
export async function withClient<T>(command: Command, action: (client: LatentWorkerClient) => Promise<T>, definitions?: LoadedConfig): Promise<T> {
  const client = await LatentWorkerClient.connect(settingsFor(command), definitions);
  try {
    return await action(client);
  } finally {
    await client.temporal.connection.close();
  }
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
