import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { dataConverterFromEnv } from '../codec/index.js';
import { DEFAULT_TASK_QUEUE } from '../contract/names.js';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Off (undefined) or the TLS to use; `{}` is TLS with the system's roots. */
  tls?: TLSConfig;
  /** Sent as `authorization: Bearer <key>`; never printed. */
  apiKey?: string;
  /** Extra gRPC headers (`grpc_meta` in a profile, TEMPORAL_GRPC_META_*). */
  metadata?: Record<string, string>;
  /** Payload encryption, which the worker and all its clients must share; Temporal's default when unset. */
  dataConverter?: DataConverter;
}

/** The connection flags of Temporal's own CLI (`temporal options`), where this CLI has them too. */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
  configFile?: string;
  apiKey?: string;
  tls?: boolean;
  tlsCertPath?: string;
  tlsCertData?: string;
  tlsKeyPath?: string;
  tlsKeyData?: string;
  tlsCaPath?: string;
  tlsCaData?: string;
  tlsServerName?: string;
}

const TLS_FLAGS = ['tls', 'tlsCertPath', 'tlsCertData', 'tlsKeyPath', 'tlsKeyData', 'tlsCaPath', 'tlsCaData', 'tlsServerName'] as const satisfies (keyof ConnectionFlags)[];

/** A connection setting that cannot be used; the message names the setting, never a secret's value. */
export class ConnectionSettingError extends Error {
  override name = 'ConnectionSettingError';
}

/** Where each TLS input comes from, named the ways a user may have set it. */
const SOURCES = {
  cert: 'the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA, --tls-cert-path/--tls-cert-data, tls.client_cert_* in the profile)',
  key: 'the client private key (TEMPORAL_TLS_CLIENT_KEY_PATH/_DATA, --tls-key-path/--tls-key-data, tls.client_key_* in the profile)',
  ca: 'the server CA certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH/_DATA, --tls-ca-path/--tls-ca-data, tls.server_ca_cert_* in the profile)',
} as const;

/**
 * Which Temporal service to talk to and how, read the way Temporal's own tools read it: the
 * profile (`--profile`, $TEMPORAL_PROFILE, else "default") of the `temporal.toml` config file
 * (`--config-file`, $TEMPORAL_CONFIG_FILE, else the user's config dir), then the TEMPORAL_*
 * variables over it, then the command-line flags over both.
 */
export function temporalSettings(env: Record<string, string | undefined> = process.env, flags: ConnectionFlags = {}): TemporalSettings {
  const profile = loadProfile(env, flags);
  const tls = { ...profile.tls };
  if (flags.tls !== undefined) tls.disabled = !flags.tls;
  if (flags.tlsServerName !== undefined) tls.serverName = flags.tlsServerName;
  tls.clientCert = sourceFrom(flags.tlsCertPath, flags.tlsCertData) ?? tls.clientCert;
  tls.clientKey = sourceFrom(flags.tlsKeyPath, flags.tlsKeyData) ?? tls.clientKey;
  tls.serverCACert = sourceFrom(flags.tlsCaPath, flags.tlsCaData) ?? tls.serverCACert;
  const apiKey = flags.apiKey ?? profile.apiKey;
  return {
    address: flags.address ?? profile.address ?? 'localhost:7233',
    namespace: flags.namespace ?? profile.namespace ?? 'default',
    taskQueue: env.LATENT_WORKER_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    // As Temporal's CLI: TLS is on once an API key or any TLS setting is given, unless turned off.
    tls: tlsConfig(tls, apiKey !== undefined || profile.tls !== undefined || TLS_FLAGS.some((flag) => flags[flag] !== undefined)),
    ...(apiKey ? { apiKey } : {}),
    ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? { metadata: profile.grpcMeta } : {}),
    dataConverter: dataConverterFromEnv(env),
  };
}

/** The options for `Connection.connect` and `NativeConnection.connect` (which take the same ones). */
export function connectionOptions(settings: TemporalSettings): { address: string; tls?: TLSConfig; apiKey?: string; metadata?: Record<string, string> } {
  return { address: settings.address, tls: settings.tls, apiKey: settings.apiKey, metadata: settings.metadata };
}

/** Where and how, for a log line: no key, no certificate contents. */
export function describeConnection(settings: TemporalSettings): string {
  const parts = [`${settings.address}, namespace ${settings.namespace}`];
  if (!settings.tls) parts.push('no TLS');
  else parts.push(settings.tls.clientCertPair ? 'mutual TLS' : 'TLS', settings.tls.serverRootCACertificate ? 'own CA' : 'system CAs');
  if (settings.tls?.serverNameOverride) parts.push(`server name ${settings.tls.serverNameOverride}`);
  if (settings.apiKey) parts.push('API key');
  return parts.join(', ');
}

function loadProfile(env: Record<string, string | undefined>, flags: ConnectionFlags): ClientConfigProfile {
  const overrideEnvVars = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  try {
    return loadClientConfigProfile({ profile: flags.profile, configSource: flags.configFile ? { path: flags.configFile } : undefined, overrideEnvVars });
  } catch (error) {
    const file = flags.configFile ?? env.TEMPORAL_CONFIG_FILE ?? "the user's temporalio/temporal.toml";
    throw new ConnectionSettingError(`Temporal config file ${file} (profile ${flags.profile ?? env.TEMPORAL_PROFILE ?? 'default'}): ${error instanceof Error ? error.message : String(error)}`);
  }
}

function sourceFrom(path: string | undefined, data: string | undefined): ConfigDataSource | undefined {
  if (path !== undefined) return { path };
  if (data !== undefined) return { data };
  return undefined;
}

function tlsConfig(tls: NonNullable<ClientConfigProfile['tls']>, wanted: boolean): TLSConfig | undefined {
  if (tls.disabled || !wanted) return undefined;
  const crt = readSource(tls.clientCert, SOURCES.cert);
  const key = readSource(tls.clientKey, SOURCES.key);
  if (crt && !key) throw new ConnectionSettingError(`${SOURCES.cert} is set but ${SOURCES.key} is not: mutual TLS needs both`);
  if (key && !crt) throw new ConnectionSettingError(`${SOURCES.key} is set but ${SOURCES.cert} is not: mutual TLS needs both`);
  if (crt && !/-----BEGIN CERTIFICATE-----/.test(crt.toString('latin1'))) throw new ConnectionSettingError(`${SOURCES.cert} is not a PEM certificate`);
  if (key && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new ConnectionSettingError(`${SOURCES.key} is not a PEM private key`);
  const ca = readSource(tls.serverCACert, SOURCES.ca);
  if (ca && !/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) throw new ConnectionSettingError(`${SOURCES.ca} is not a PEM certificate`);
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
}

function readSource(source: ConfigDataSource | undefined, what: string): Buffer | undefined {
  if (!source) return undefined;
  if ('data' in source) return Buffer.from(source.data);
  try {
    return readFileSync(source.path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : error instanceof Error ? error.message : String(error);
    throw new ConnectionSettingError(`${what}: cannot read ${source.path}: ${reason}`);
  }
}
