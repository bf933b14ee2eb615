import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';

export type Env = Record<string, string | undefined>;

export interface CloudsFileOptions {
  env: Env;
  /** Searched first, as openstacksdk searches the current directory; default process.cwd(). */
  cwd?: string;
  /** For `~/.config/openstack`; default os.homedir(). */
  homeDir?: string;
  /** The system-wide directory; default `/etc/openstack`. */
  systemDir?: string;
}

/** One cloud entry of clouds.yaml, with the same cloud of secure.yaml merged over it. */
export interface NamedCloud {
  name: string;
  /** The files it was read from, for messages. */
  files: string[];
  entry: Record<string, unknown>;
}

const SUFFIXES = ['.yaml', '.yml', '.json'];

/**
 * Where openstacksdk looks, in its order: the file named by OS_CLIENT_CONFIG_FILE (or
 * OS_CLIENT_SECURE_FILE), then `./`, the user's `~/.config/openstack/` (or
 * `$XDG_CONFIG_HOME/openstack/`) and `/etc/openstack/`. The first file found is the only one read.
 */
export function cloudsFileCandidates(kind: 'clouds' | 'secure', options: CloudsFileOptions): string[] {
  const cwd = options.cwd ?? process.cwd();
  const home = options.homeDir ?? homedir();
  const userDir = options.env.XDG_CONFIG_HOME ? join(options.env.XDG_CONFIG_HOME, 'openstack') : join(home, '.config', 'openstack');
  const dirs = [cwd, userDir, options.systemDir ?? '/etc/openstack'];
  return dirs.flatMap((dir) => SUFFIXES.map((suffix) => join(dir, `${kind}${suffix}`)));
}

/** Finds `name` in clouds.yaml (and secure.yaml), or throws a ConfigError saying where it looked. */
export function loadNamedCloud(name: string, options: CloudsFileOptions): NamedCloud {
  const cloudsFile = findFile('clouds', 'OS_CLIENT_CONFIG_FILE', options);
  const secureFile = findFile('secure', 'OS_CLIENT_SECURE_FILE', options);
  if (!cloudsFile && !secureFile) {
    const searched = cloudsFileCandidates('clouds', options).filter((path) => path.endsWith('.yaml'));
    throw new ConfigError(`cloud '${name}' is named, but there is no clouds.yaml: looked for ${searched.join(', ')} (set OS_CLIENT_CONFIG_FILE to use another file)`);
  }
  const clouds = cloudsFile ? cloudsOf(cloudsFile) : {};
  const secure = secureFile ? cloudsOf(secureFile) : {};
  const base = clouds[name];
  const overlay = secure[name];
  if (base === undefined && overlay === undefined) {
    const known = [...new Set([...Object.keys(clouds), ...Object.keys(secure)])];
    const files = [cloudsFile, secureFile].filter((file) => file !== undefined).join(' and ');
    throw new ConfigError(`cloud '${name}' is not defined in ${files}; it defines ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'no clouds'}`);
  }
  const files = [base === undefined ? undefined : cloudsFile, overlay === undefined ? undefined : secureFile].filter((file) => file !== undefined);
  for (const [file, entry] of [[cloudsFile, base], [secureFile, overlay]] as const) {
    if (entry !== undefined && !isPlainObject(entry)) throw new ConfigError(`${file}: clouds.${name} must be a mapping`);
  }
  return { name, files, entry: deepMerge(asObject(base), asObject(overlay)) };
}

function findFile(kind: 'clouds' | 'secure', variable: string, options: CloudsFileOptions): string | undefined {
  const explicit = options.env[variable];
  if (explicit) {
    const path = resolve(options.cwd ?? process.cwd(), explicit);
    // A file named on purpose that is not there is a mistake, not a reason to read another one.
    if (!existsSync(path)) throw new ConfigError(`${variable} names ${path}, which does not exist`);
    return path;
  }
  return cloudsFileCandidates(kind, options).find((path) => existsSync(path));
}

/** The `clouds:` mapping of one file. Parse errors give the position only: the text may hold passwords. */
function cloudsOf(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const position = (error as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const where = position ? ` at line ${position.line}, column ${position.col}` : '';
    const code = (error as { code?: string }).code;
    throw new ConfigError(`${file}: not valid YAML${where}${code ? ` (${code})` : ''}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed) || (parsed.clouds !== undefined && !isPlainObject(parsed.clouds))) {
    throw new ConfigError(`${file}: expected a mapping with a "clouds:" mapping of cloud names`);
  }
  return parsed.clouds === undefined ? {} : parsed.clouds;
}

function asObject(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function deepMerge(base: Record<string, unknown>, overlay: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
