import net from 'node:net';
import tls from 'node:tls';
import type { TemporalSettings } from './settings.js';

const PROBE_TIMEOUT_MS = 5_000;

/**
 * A connection to Temporal that failed, with the reason found by trying the steps one by one.
 * gRPC only says "Failed to connect before the deadline"; this says which setting is wrong.
 */
export class ConnectionFailedError extends Error {
  override name = 'ConnectionFailedError';
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'tls',
  ) {
    super(message);
  }
}

/** Where the TLS settings come from, to name in a message. */
const SETTING = {
  ca: 'the server CA certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH, --tls-ca-path)',
  serverName: 'the server name (TEMPORAL_TLS_SERVER_NAME, --tls-server-name)',
  clientCert: 'the client certificate and key (TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, --tls-cert-path / --tls-key-path)',
};

/**
 * Why a connection with these settings fails: the TCP connect, then the TLS handshake with the
 * same CA, name and client certificate. Undefined when both succeed (the cause is further on).
 */
export async function diagnoseConnection(settings: TemporalSettings): Promise<ConnectionFailedError | undefined> {
  const { host, port } = splitAddress(settings.address);
  const tcp = await attempt((done) => {
    const socket = net.connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    socket.once('connect', () => done(undefined, socket));
    socket.once('timeout', () => done(Object.assign(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }), socket));
    socket.once('error', (error) => done(error, socket));
  });
  if (tcp) return new ConnectionFailedError(`cannot reach the Temporal service at ${settings.address} (TEMPORAL_ADDRESS, --address, or the profile's address): ${tcp.message}`, 'unreachable');

  const servername = settings.tls?.serverNameOverride ?? (net.isIP(host) ? undefined : host);
  const handshake = await attempt((done) => {
    const socket = tls.connect({
      host,
      port,
      servername,
      ALPNProtocols: ['h2'],
      timeout: PROBE_TIMEOUT_MS,
      rejectUnauthorized: settings.tls !== undefined,
      ...(settings.tls?.serverRootCACertificate ? { ca: Buffer.from(settings.tls.serverRootCACertificate) } : {}),
      ...(settings.tls?.clientCertPair ? { cert: Buffer.from(settings.tls.clientCertPair.crt), key: Buffer.from(settings.tls.clientCertPair.key) } : {}),
    });
    // A refused client certificate shows only once the server reads from us (TLS 1.3): wait for its alert.
    socket.once('secureConnect', () => setTimeout(() => done(undefined, socket), 300));
    socket.once('timeout', () => done(new Error(`no TLS handshake within ${PROBE_TIMEOUT_MS} ms`), socket));
    socket.once('error', (error) => done(error, socket));
  });

  if (!settings.tls) {
    if (handshake) return undefined;
    return new ConnectionFailedError(`the Temporal service at ${settings.address} speaks TLS and this connection does not: set TEMPORAL_TLS=true or --tls (and ${SETTING.ca} if its CA is not a public one)`, 'tls');
  }
  if (!handshake) return undefined;
  const code = (handshake as NodeJS.ErrnoException).code ?? '';
  const which = /ALTNAME|HOSTNAME/i.test(code)
    ? SETTING.serverName
    : /VERIFY|SELF_SIGNED|ISSUER|CERT_UNTRUSTED|CERT_SIGNATURE/i.test(code)
      ? SETTING.ca
      : /alert|certificate required|unknown ca|bad certificate/i.test(handshake.message)
        ? SETTING.clientCert
        : `${SETTING.ca}, ${SETTING.serverName} and ${SETTING.clientCert}`;
  return new ConnectionFailedError(`TLS handshake with the Temporal service at ${settings.address} failed: ${handshake.message}${code ? ` (${code})` : ''}: check ${which}`, 'tls');
}

/** Runs `connect`; when it fails, the error says which step and setting failed, if the probe finds it. */
export async function connectOrExplain<T>(settings: TemporalSettings, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw (await diagnoseConnection(settings).catch(() => undefined)) ?? error;
  }
}

function attempt(start: (done: (error: Error | undefined, socket: net.Socket) => void) => void): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    start((error, socket) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(error);
    });
  });
}

function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return match ? { host: match[1]!, port: Number(match[2]) } : { host: address, port: 7233 };
}
