import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { ENCRYPTED_ENCODING, KEYS_VARIABLE } from '../codec/index.js';
import { ConnectionFailedError } from './connectionDiagnosis.js';

/** gRPC status codes the CLI tells apart. */
const GRPC = { invalidArgument: 3, notFound: 5, permissionDenied: 7, unavailable: 14, unauthenticated: 16, deadlineExceeded: 4 } as const;

/** The class of an error, stable for scripts (`--json` prints it as `error.kind`). */
export type ErrorKind = 'unreachable' | 'tls' | 'unauthenticated' | 'permission-denied' | 'not-set-up' | 'namespace-not-found' | 'lifecycle-failed' | 'failure';

/** The gRPC status code somewhere in the error's cause chain, if any. */
export function grpcCode(error: unknown): number | undefined {
  for (const link of causeChain(error)) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/**
 * The innermost message: what Temporal or the cloud said ("Namespace default has no mapping
 * defined for search attribute LatentWorkerName"), not the SDK's wrapper ("Failed to start Workflow").
 */
export function innermostMessage(error: unknown): string {
  const chain = causeChain(error);
  for (const link of chain.reverse()) {
    const details = (link as { details?: unknown }).details;
    if (typeof details === 'string' && details.trim() !== '') return details;
    if (link instanceof Error && link.message.trim() !== '') return link.message;
  }
  return String(error);
}

export function errorKind(error: unknown): ErrorKind {
  if (error instanceof WorkflowFailedError) return 'lifecycle-failed';
  if (error instanceof ConnectionFailedError) return error.kind;
  const code = grpcCode(error);
  const text = causeChain(error).map((link) => (link instanceof Error ? link.message : String(link))).join(' | ');
  if (/certificate|handshake|\bTLS\b|\bSSL\b|InvalidCertificate|UnknownIssuer|alert/i.test(text)) return 'tls';
  if (code === GRPC.unauthenticated) return 'unauthenticated';
  if (code === GRPC.permissionDenied) return 'permission-denied';
  if (/no mapping defined for search attribute|search attribute .* is not defined|not a valid search attribute/i.test(text)) return 'not-set-up';
  if (code === GRPC.notFound && /namespace/i.test(text)) return 'namespace-not-found';
  if (code === GRPC.unavailable || code === GRPC.deadlineExceeded || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|Connection refused|transport error|Failed to connect|connect timeout|DNS resolution/i.test(text)) return 'unreachable';
  return 'failure';
}

/** What to do about each class of failure, naming the settings involved. */
const HINTS: Partial<Record<ErrorKind, string>> = {
  unreachable: 'no Temporal service answered at the address (TEMPORAL_ADDRESS, --address, or the profile\'s address); is it running, and does it expect TLS (TEMPORAL_TLS, --tls)?',
  tls: 'the TLS connection was refused: check the server CA (TEMPORAL_TLS_SERVER_CA_CERT_PATH, --tls-ca-path), the server name (TEMPORAL_TLS_SERVER_NAME, --tls-server-name) and the client certificate and key (TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, --tls-cert-path / --tls-key-path)',
  unauthenticated: 'the Temporal service refused the credentials: check the API key (TEMPORAL_API_KEY, --api-key) or the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH, --tls-cert-path)',
  'permission-denied': 'the credentials are valid but may not do this on the namespace (TEMPORAL_NAMESPACE, --namespace)',
  'not-set-up': 'the search attributes the lifecycle writes are not registered on the namespace: run `latent-worker setup`',
  'namespace-not-found': 'the namespace does not exist on this service: check TEMPORAL_NAMESPACE / --namespace, or run `latent-worker setup`',
};

/**
 * One line for a person: the innermost cause rather than Temporal's wrappers ("Workflow execution
 * failed", "Failed to start Workflow"), and what to do about the failures people can fix themselves.
 */
export function describeError(error: unknown): string {
  if (error instanceof WorkflowFailedError) return `the lifecycle failed: ${describeCause(error.cause ?? error)}`;
  const message = innermostMessage(error);
  if (message.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) {
    return `${message}: the worker encrypts payloads; give this client the same keys (${KEYS_VARIABLE})`;
  }
  // A diagnosis names its setting already.
  const hint = error instanceof ConnectionFailedError ? undefined : HINTS[errorKind(error)];
  return hint ? `${message} (${hint})` : message;
}

function describeCause(cause: Error): string {
  let innermost = cause;
  while (innermost instanceof ActivityFailure && innermost.cause) innermost = innermost.cause;
  if (innermost instanceof ApplicationFailure && innermost.type === 'OpenStackAuth') {
    return `authentication failed (check the worker's OpenStack credentials): ${innermost.message}`;
  }
  return innermost.message;
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let link: unknown = error; link !== undefined && link !== null && !chain.includes(link); link = (link as { cause?: unknown }).cause) chain.push(link);
  return chain;
}
