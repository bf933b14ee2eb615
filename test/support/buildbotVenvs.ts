import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { spawnGuarded, type GuardedProcess } from '../../src/temporal/guardedProcess.js';
import { projectRoot } from '../../src/temporal/paths.js';

// The two ways a master runs the adapter, as integrations/buildbot/install.sh installs them:
// Buildbot 4 from the package index, and Debian's Buildbot 3.7 seen through a venv.

const run = promisify(execFile);
const tools = process.env.LATENT_WORKER_TOOLS_DIR ?? path.join(projectRoot, '.tools');

export interface BuildbotInstall {
  label: string;
  python: string;
  buildbot: string;
  buildbotWorker: string;
}

export const BUILDBOT4: BuildbotInstall = {
  label: 'Buildbot 4 (pip)',
  python: path.join(tools, 'buildbot4-venv', 'bin', 'python'),
  buildbot: path.join(tools, 'buildbot4-venv', 'bin', 'buildbot'),
  buildbotWorker: path.join(tools, 'buildbot4-venv', 'bin', 'buildbot-worker'),
};

export const BUILDBOT37: BuildbotInstall = {
  label: "Debian's Buildbot 3.7",
  python: path.join(tools, 'buildbot-venv', 'bin', 'python'),
  buildbot: '/usr/bin/buildbot',
  buildbotWorker: '/usr/bin/buildbot-worker',
};

const INSTALL_HINT = 'run `npm run buildbot:install` (integrations/buildbot/install.sh; .ci/run does it)';

/** Throws, naming what is missing and how to install it: these tests are never skipped. */
export async function requireInstall(install: BuildbotInstall): Promise<string> {
  for (const file of [install.python, install.buildbot, install.buildbotWorker]) {
    if (!existsSync(file)) throw new Error(`${install.label}: ${file} is missing; ${INSTALL_HINT}`);
  }
  const probe = 'import importlib.metadata as m, buildbot; from buildbot.plugins import worker; worker.TemporalOpenStackLatentWorker; print(buildbot.version, m.version("openstack-latent-worker-buildbot"))';
  try {
    const { stdout } = await run(install.python, ['-c', probe], { timeout: 60_000 });
    const [buildbot, adapter] = stdout.trim().split(' ');
    return `${install.label}: buildbot ${buildbot}, adapter ${adapter} (buildbot.worker entry point)`;
  } catch (error) {
    throw new Error(`${install.label}: the adapter is not installed as a Buildbot plugin (${(error as { stderr?: string }).stderr?.trim() ?? error}); ${INSTALL_HINT}`);
  }
}

export interface CommandResult {
  code: number;
  output: string;
}

export async function runTool(install: BuildbotInstall, tool: 'buildbot' | 'buildbot-worker', args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(install.python, [tool === 'buildbot' ? install.buildbot : install.buildbotWorker, ...args], { timeout: 120_000, env });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` || failed.message };
  }
}

export async function mustRun(install: BuildbotInstall, tool: 'buildbot' | 'buildbot-worker', args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const { code, output } = await runTool(install, tool, args, env);
  if (code !== 0) throw new Error(`${install.label}: ${tool} ${args[0]} exited ${code}:\n${output}`);
  return output;
}

/** `start --nodaemon DIR` in a process group of its own, with `env`. */
export function startTool(install: BuildbotInstall, tool: 'buildbot' | 'buildbot-worker', dir: string, env: NodeJS.ProcessEnv): GuardedProcess {
  return spawnGuarded(install.python, [tool === 'buildbot' ? install.buildbot : install.buildbotWorker, 'start', '--nodaemon', dir], path.join(dir, 'console.log'), env);
}
