import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { AesGcmCodec, ENCRYPTED_ENCODING, keyRingFromEnv } from '../../src/codec/index.js';
import { cloudKey } from '../../src/workflows/searchAttributes.js';
import { ROTATED_ENV } from './encryption.js';
import { AUDITED_SECRETS, TOKEN_PATTERN, type AuditedSecret } from './secrets.js';

// Searches workflow histories for the test suite's credentials (test/support/secrets.ts):
// payloads decoded, and decrypted with the test keys, before they are searched. Used by
// test/audit/secrets.test.ts on the shared dev server; any other run (e.g. one with a Temporal
// server of its own) can call auditServer() on its address the same way.

/** A key that names a credential: whatever string it holds is one. */
const CREDENTIAL_KEY = /^(os_)?(password|secret|token)$|application_?credential_?secret|^x[-_]?(auth|subject)[-_]?token$|^auth_?token$/i;

export interface Finding {
  where: string;
  what: string;
}

/** Searches history events (as `historyToJSON` writes them) and tells what it found and where. */
export class HistoryScanner {
  readonly findings: Finding[] = [];
  payloads = 0;
  decrypted = 0;
  failures = 0;

  constructor(private readonly codec: AesGcmCodec) {}

  async scanEvent(event: unknown, where: string): Promise<void> {
    await this.walk(event, where);
  }

  private async walk(value: unknown, where: string): Promise<void> {
    if (typeof value === 'string') return this.scanString(value, where);
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) await this.walk(item, `${where}[${index}]`);
      return;
    }
    if (!isRecord(value)) return;
    if (isPayloadJson(value)) return this.scanPayload(payloadFromJson(value), where);
    if (typeof value.message === 'string' && ('source' in value || 'applicationFailureInfo' in value || 'encodedAttributes' in value)) this.failures += 1;
    for (const [key, item] of Object.entries(value)) {
      this.scanKey(key, item, `${where}.${key}`);
      await this.walk(item, `${where}.${key}`);
    }
  }

  private async scanPayload(payload: Payload, where: string): Promise<void> {
    this.payloads += 1;
    const metadata = Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, bytes]) => [key, Buffer.from(bytes ?? []).toString('utf8')]));
    for (const [key, text] of Object.entries(metadata)) this.scanString(text, `${where}.metadata.${key}`);
    if (metadata.encoding === ENCRYPTED_ENCODING) {
      const [plain] = await this.codec.decode([payload]);
      this.decrypted += 1;
      return this.scanPayload(plain!, `${where}(decrypted)`);
    }
    const text = Buffer.from(payload.data ?? []).toString('utf8');
    if (metadata.encoding?.startsWith('json/')) await this.walkJson(JSON.parse(text), `${where}.data`);
    else this.scanString(text, `${where}.data`);
  }

  /** Decoded payload contents: plain JSON, where payload-shaped objects are user data, not payloads. */
  private async walkJson(value: unknown, where: string): Promise<void> {
    if (typeof value === 'string') return this.scanString(value, where);
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) await this.walkJson(item, `${where}[${index}]`);
      return;
    }
    if (!isRecord(value)) return;
    for (const [key, item] of Object.entries(value)) {
      this.scanKey(key, item, `${where}.${key}`);
      await this.walkJson(item, `${where}.${key}`);
    }
  }

  private scanKey(key: string, value: unknown, where: string): void {
    if (CREDENTIAL_KEY.test(key) && typeof value === 'string' && value !== '' && value !== '[redacted]') {
      this.findings.push({ where, what: `a credential-named field "${key}" with a value` });
    }
  }

  private scanString(value: string, where: string): void {
    for (const secret of AUDITED_SECRETS) {
      if (matches(value, secret)) this.findings.push({ where, what: secret.label });
    }
    if (TOKEN_PATTERN.test(value)) this.findings.push({ where, what: 'a Keystone token' });
  }
}

function matches(value: string, { value: secret, match }: AuditedSecret): boolean {
  if (value === secret) return true;
  if (match === 'anywhere') return value.includes(secret);
  if (match === 'word') return new RegExp(`(^|[^A-Za-z0-9])${escapeRegExp(secret)}($|[^A-Za-z0-9])`).test(value);
  return false;
}

function isPayloadJson(value: Record<string, unknown>): boolean {
  return isRecord(value.metadata) && typeof value.metadata.encoding === 'string' && (value.data === undefined || typeof value.data === 'string');
}

function payloadFromJson(value: Record<string, unknown>): Payload {
  const metadata = value.metadata as Record<string, string>;
  return {
    metadata: Object.fromEntries(Object.entries(metadata).map(([key, base64]) => [key, Buffer.from(base64, 'base64')])),
    data: Buffer.from(typeof value.data === 'string' ? value.data : '', 'base64'),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface ServerAudit {
  scanner: HistoryScanner;
  histories: number;
  events: number;
  types: Map<string, number>;
  statuses: Map<string, number>;
  /** The LatentWorkerCloud search attribute of every lifecycle: which clouds and credential kinds ran. */
  clouds: Set<string>;
}

/** Every history of every namespace on a Temporal service. */
export async function auditServer(address: string): Promise<ServerAudit> {
  const audit: ServerAudit = { scanner: new HistoryScanner(testCodec()), histories: 0, events: 0, types: new Map(), statuses: new Map(), clouds: new Set() };
  const connection = await Connection.connect({ address, connectTimeout: '10 seconds' });
  try {
    const { namespaces } = await connection.workflowService.listNamespaces({});
    const names = namespaces.map((namespace) => namespace.namespaceInfo?.name ?? '').filter((name) => name !== '' && name !== 'temporal-system');
    for (const namespace of names) await auditNamespace(new Client({ connection, namespace }), namespace, audit);
  } finally {
    await connection.close();
  }
  return audit;
}

export function describeAudit(audit: ServerAudit): string {
  const counts = (map: Map<string, number>) => [...map].map(([key, n]) => `${key} ${n}`).join(', ');
  const { scanner } = audit;
  return (
    `${audit.histories} histories (${counts(audit.types)}; ${counts(audit.statuses)}), ${audit.events} events, ` +
    `${scanner.payloads} payloads (${scanner.decrypted} decrypted), ${scanner.failures} failures, ${audit.clouds.size} clouds; ${scanner.findings.length} findings`
  );
}

/** The codec of the test keys, which every test that encrypts uses. */
export function testCodec(): AesGcmCodec {
  return new AesGcmCodec(keyRingFromEnv(ROTATED_ENV)!);
}

async function auditNamespace(client: Client, namespace: string, audit: ServerAudit): Promise<void> {
  for await (const execution of client.workflow.list()) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    const events = (JSON.parse(historyToJSON(history)) as { events?: Record<string, unknown>[] }).events ?? [];
    audit.histories += 1;
    audit.events += events.length;
    audit.types.set(execution.type, (audit.types.get(execution.type) ?? 0) + 1);
    audit.statuses.set(execution.status.name, (audit.statuses.get(execution.status.name) ?? 0) + 1);
    const cloud = execution.typedSearchAttributes.get(cloudKey);
    if (cloud) audit.clouds.add(cloud);
    for (const event of events) {
      await audit.scanner.scanEvent(event, `${namespace}/${execution.workflowId}/${execution.runId} event ${String(event.eventId)}`);
    }
  }
}
