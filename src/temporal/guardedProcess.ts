import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

export interface GuardedProcess {
  pid: number;
  /** Resolves with a description of how the process ended ("code 1", "signal SIGKILL"). */
  exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM to the process group, SIGKILL once `graceMs` has passed; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

// Runs in a separate tiny Node process. When our process dies in any way (SIGKILL included) the
// kernel closes the IPC channel, the watchdog sees 'disconnect' and kills the whole group, so no
// test run or crashed CLI leaves a server behind.
const WATCHDOG_SOURCE = `
process.on('disconnect', () => {
  try { process.kill(-Number(process.argv[1]), 'SIGKILL'); } catch {}
  process.exit(0);
});
`;

const KILL_WAIT_MS = 5_000;

/**
 * Spawns `command` in its own process group (so Ctrl-C in a terminal reaches us, not it, and one
 * signal reaches any children it has), with stdout and stderr appended to `logFile`.
 */
export function spawnGuarded(command: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): GuardedProcess {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(command, args, { detached: true, stdio: ['ignore', logFd, logFd], env });
  } finally {
    closeSync(logFd);
  }
  let exitDescription: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve((exitDescription = `spawn error: ${error.message}`)));
    child.once('exit', (code, signal) => resolve((exitDescription = signal ? `signal ${signal}` : `code ${code}`)));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${command}`);

  // Detached too: a terminal's Ctrl-C must not kill the watchdog before it has done its job.
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(pid)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  watchdog.unref();
  watchdog.channel?.unref();
  void exited.then(() => watchdog.kill('SIGKILL'));

  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  const exitedWithin = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  return {
    pid,
    exited,
    hasExited: () => exitDescription !== undefined,
    async stop(graceMs = 10_000) {
      if (exitDescription !== undefined) return;
      signalGroup('SIGTERM');
      if (await exitedWithin(graceMs)) return;
      signalGroup('SIGKILL');
      if (!(await exitedWithin(KILL_WAIT_MS))) throw new Error(`process ${pid} survived SIGKILL`);
    },
  };
}
