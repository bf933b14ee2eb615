import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/temporal/paths.js';

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `latent-worker` CLI in a child process, as a CI master's script would, with the
 * machine's own OpenStack and latent-worker settings left out so only `env` decides. Never throws
 * on an exit code: the caller asserts it.
 */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  // Nothing of the user's OpenStack, worker or Temporal settings (TEMPORAL_*, temporal.toml): a test gives what it uses.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(OS_|LATENT_WORKER_|TEMPORAL_)/.test(key)));
  inherited.TEMPORAL_CONFIG_FILE = path.join(projectRoot, '.scratch', 'no-such-dir', 'temporal.toml');
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/client/cli.ts', ...args], { env: { ...inherited, ...env }, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
