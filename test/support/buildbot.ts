import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { spawnGuarded, type GuardedProcess } from '../../src/temporal/guardedProcess.js';
import { projectRoot } from '../../src/temporal/paths.js';

// Debian's buildbot 3.7 and buildbot-worker run from the venv that integrations/buildbot/install.sh
// makes: it sees Debian's packages and holds the pinned temporalio and the adapter.

const run = promisify(execFile);

export const BUILDBOT_VENV = process.env.LATENT_WORKER_BUILDBOT_VENV ?? path.join(projectRoot, '.tools', 'buildbot-venv');
export const VENV_PYTHON = path.join(BUILDBOT_VENV, 'bin', 'python');
const BUILDBOT = '/usr/bin/buildbot';
const BUILDBOT_WORKER = '/usr/bin/buildbot-worker';

const INSTALL_HINT = 'install them with `apt-get install -y buildbot buildbot-worker && integrations/buildbot/install.sh` (.ci/run does both)';

/** Throws, naming what is missing and how to install it: this test is never skipped. */
export async function requireBuildbot(): Promise<string> {
  for (const script of [BUILDBOT, BUILDBOT_WORKER]) {
    if (!existsSync(script)) throw new Error(`${script} is missing: the Debian packages buildbot and buildbot-worker are needed; ${INSTALL_HINT}`);
  }
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: the Buildbot adapter's venv is not installed; ${INSTALL_HINT}`);
  const probe = 'import importlib.metadata as m, buildbot, buildbot_worker, latent_worker_buildbot; print(buildbot.version, m.version("temporalio"))';
  try {
    const { stdout } = await run(VENV_PYTHON, ['-c', probe], { timeout: 60_000 });
    const [buildbotVersion, temporalio] = stdout.trim().split(' ');
    return `buildbot ${buildbotVersion}, temporalio ${temporalio}`;
  } catch (error) {
    throw new Error(`${VENV_PYTHON} cannot import buildbot, temporalio and latent_worker_buildbot (${(error as { stderr?: string }).stderr?.trim() ?? error}); ${INSTALL_HINT}`);
  }
}

export interface VenvResult {
  code: number;
  /** stdout and stderr together. */
  output: string;
}

/** Runs the venv's python with `args` and `env` added to ours; never throws on an exit code. */
export async function venvPython(args: string[], env: Record<string, string> = {}): Promise<VenvResult> {
  try {
    const { stdout, stderr } = await run(VENV_PYTHON, args, { timeout: 120_000, env: { ...process.env, ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` || failed.message };
  }
}

/** A `buildbot` or `buildbot-worker` subcommand that must succeed (create-master, sendchange, ...). */
export async function buildbotCommand(args: string[], tool: 'buildbot' | 'buildbot-worker' = 'buildbot'): Promise<string> {
  const { code, output } = await venvPython([tool === 'buildbot' ? BUILDBOT : BUILDBOT_WORKER, ...args]);
  if (code !== 0) throw new Error(`${tool} ${args[0]} exited ${code}:\n${output}`);
  return output;
}

/** `buildbot checkconfig DIR`, whose exit code and message the caller asserts. */
export async function checkConfig(masterDir: string): Promise<VenvResult> {
  return venvPython([BUILDBOT, 'checkconfig', masterDir]);
}

/** `buildbot start --nodaemon DIR` or `buildbot-worker start --nodaemon DIR`, in a process group of its own. */
export function startDaemon(tool: 'buildbot' | 'buildbot-worker', dir: string): GuardedProcess {
  return spawnGuarded(VENV_PYTHON, [tool === 'buildbot' ? BUILDBOT : BUILDBOT_WORKER, 'start', '--nodaemon', dir], path.join(dir, 'console.log'));
}

/** The last lines of a log, for a failure message. */
export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return `(${file} does not exist)`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

export interface BuildRow {
  id: number;
  number: number;
  builder: string;
  worker: string | null;
  /** Buildbot's result code: 0 SUCCESS, 1 WARNINGS, 2 FAILURE, 3 SKIPPED, 4 EXCEPTION, 5 RETRY, 6 CANCELLED; null while running. */
  results: number | null;
  state: string;
  complete: boolean;
}

export const RESULT_NAMES = ['SUCCESS', 'WARNINGS', 'FAILURE', 'SKIPPED', 'EXCEPTION', 'RETRY', 'CANCELLED'];

/** The master's builds, read from its database (Debian's 3.7 ships no web UI, so no REST API). */
export async function readBuilds(masterDir: string): Promise<BuildRow[]> {
  const query = `
import json, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("""select b.id, b.number, bl.name, w.name, b.results, b.state_string, b.complete_at
  from builds b join builders bl on bl.id = b.builderid left join workers w on w.id = b.workerid order by b.id""").fetchall()
print(json.dumps([dict(id=r[0], number=r[1], builder=r[2], worker=r[3], results=r[4], state=r[5], complete=r[6] is not None) for r in rows]))
`;
  const { stdout } = await run(VENV_PYTHON, ['-c', query, path.join(masterDir, 'state.sqlite')], { timeout: 30_000 });
  return JSON.parse(stdout) as BuildRow[];
}

/** Polls `probe` until it gives a value, failing with `describe()` (a master's log, say) after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
