import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/client/exitCodes.js';
import {
  codecFromEnv,
  type AesGcmCodec,
  dataConverterFromEnv,
  EncryptionKeyError,
  ENCRYPTED_ENCODING,
  keyRingFromEnv,
  KEY_ID_METADATA,
  PayloadDecryptionError,
} from '../src/codec/index.js';
import { startCodecServer, type CodecServer } from '../src/codec/server.js';
import { defaultUsers } from '../src/simulator/index.js';
import { PREVIOUS_ENV, ROTATED_ENV, TEST_KEYS } from './support/encryption.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { APPLICATION_CREDENTIAL, AUDITED_USER } from './support/secrets.js';
import { runCli } from './support/cli.js';
import { connectClient, temporalAddress } from './support/temporal.js';
import { freePort } from '../src/temporal/ports.js';

const utf8 = new TextEncoder();
const jsonPayload = (value: unknown): Payload => ({ metadata: { encoding: utf8.encode('json/plain') }, data: utf8.encode(JSON.stringify(value)) });
const codecOf = (env: Record<string, string>): AesGcmCodec => codecFromEnv(env)!;


const cli = (args: string[], env: Record<string, string>) => runCli(args, env);

describe('the AES-256-GCM payload codec', () => {
  const codec = codecOf(ROTATED_ENV);

  it('encrypts each payload whole, with a fresh IV and the key id in the clear, and decrypts it back', async () => {
    const payload = jsonPayload({ image: 'plaintext-canary' });
    const [first, second] = await codec.encode([payload, payload]);
    expect(Buffer.from(first!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(first!.metadata![KEY_ID_METADATA]!).toString()).toBe(TEST_KEYS.current.id);
    expect(Object.keys(first!.metadata!)).toEqual(['encoding', KEY_ID_METADATA]);
    expect(Buffer.from(first!.data!).toString('latin1')).not.toContain('plaintext-canary');
    expect(Buffer.from(first!.data!).subarray(0, 12)).not.toEqual(Buffer.from(second!.data!).subarray(0, 12));
    expect(await codec.decode([first!, second!])).toEqual([payload, payload]);
  });

  it("seals Temporal's own Payload message, so other SDKs can implement the same codec", async () => {
    const payload = jsonPayload({ a: 1 });
    const [sealed] = await codec.encode([payload]);
    const data = Buffer.from(sealed!.data!);
    const { createDecipheriv } = await import('node:crypto');
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(TEST_KEYS.current.base64, 'base64'), data.subarray(0, 12));
    decipher.setAuthTag(data.subarray(-16));
    const plain = Buffer.concat([decipher.update(data.subarray(12, -16)), decipher.final()]);
    const parsed = proto.temporal.api.common.v1.Payload.decode(plain);
    expect(Buffer.from(parsed.data).toString()).toBe('{"a":1}');
    expect(Buffer.from(parsed.metadata.encoding!).toString()).toBe('json/plain');
  });

  it('rotates keys: new payloads use the first key, payloads of an older key stay readable', async () => {
    const [old] = await codecOf(PREVIOUS_ENV).encode([jsonPayload('before the rotation')]);
    expect(Buffer.from(old!.metadata![KEY_ID_METADATA]!).toString()).toBe(TEST_KEYS.previous.id);
    expect(await codec.decode([old!])).toEqual([jsonPayload('before the rotation')]);
    const [current] = await codec.encode([jsonPayload('after')]);
    expect(Buffer.from(current!.metadata![KEY_ID_METADATA]!).toString()).toBe(TEST_KEYS.current.id);
  });

  it('says which key it lacks, and tells a wrong key and altered data from a missing one', async () => {
    const [sealed] = await codec.encode([jsonPayload('x')]);
    await expect(codecOf(PREVIOUS_ENV).decode([sealed!])).rejects.toThrow(
      new PayloadDecryptionError(
        'a payload was encrypted with key "test-2", which LATENT_WORKER_ENCRYPTION_KEYS does not hold (it has "test-1"); after a rotation keep the old key in LATENT_WORKER_ENCRYPTION_KEYS behind the new one',
      ),
    );
    const stranger = codecOf({ LATENT_WORKER_ENCRYPTION_KEYS: `${TEST_KEYS.stranger.id}:${TEST_KEYS.stranger.base64}` });
    await expect(stranger.decode([sealed!])).rejects.toThrow(/^cannot decrypt a payload with key "test-2" of LATENT_WORKER_ENCRYPTION_KEYS: authentication failed/);
    const altered = Buffer.from(sealed!.data!);
    altered[20]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data: altered }])).rejects.toThrow(/authentication failed, so either that key is not the one .* or the payload was altered/);
  });

  it('is off without keys, and passes payloads written before encryption through', async () => {
    expect(dataConverterFromEnv({})).toBeUndefined();
    expect(dataConverterFromEnv({ LATENT_WORKER_ENCRYPTION_KEY: ' ' })).toBeUndefined();
    expect(await codec.decode([jsonPayload('plain')])).toEqual([jsonPayload('plain')]);
    const single = codecOf({ LATENT_WORKER_ENCRYPTION_KEY: TEST_KEYS.previous.base64 });
    expect(single.keyIds).toEqual(['default']);
  });

  it('reads the key ring from a file (a systemd credential), one entry a line or comma-separated', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keys-'));
    try {
      const file = path.join(dir, 'encryption-keys');
      writeFileSync(file, `new:${TEST_KEYS.current.base64}\nold:${TEST_KEYS.previous.base64}\n`);
      const ring = keyRingFromEnv({ LATENT_WORKER_ENCRYPTION_KEYS_FILE: file })!;
      expect(ring.current.id).toBe('new');
      expect([...ring.byId.keys()]).toEqual(['new', 'old']);
      expect(ring.source).toBe(`LATENT_WORKER_ENCRYPTION_KEYS_FILE (${file})`);
      writeFileSync(file, `new:${Buffer.alloc(16, 7).toString('base64')}`);
      expect(() => keyRingFromEnv({ LATENT_WORKER_ENCRYPTION_KEYS_FILE: file })).toThrow(`LATENT_WORKER_ENCRYPTION_KEYS_FILE (${file}): key "new" is 16 bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const key16 = Buffer.alloc(16, 7).toString('base64');
  const key32 = TEST_KEYS.current.base64;
  it.each([
    ['a key that is not base64', { LATENT_WORKER_ENCRYPTION_KEY: 'not base64!!' }, 'LATENT_WORKER_ENCRYPTION_KEY is not base64; make one with: openssl rand -base64 32'],
    ['a 16-byte key', { LATENT_WORKER_ENCRYPTION_KEY: key16 }, 'LATENT_WORKER_ENCRYPTION_KEY is 16 bytes; AES-256-GCM needs exactly 32'],
    ['an entry without an id', { LATENT_WORKER_ENCRYPTION_KEYS: key32 }, 'LATENT_WORKER_ENCRYPTION_KEYS: entry 1 is not "id:base64key"'],
    ['a short key in a ring', { LATENT_WORKER_ENCRYPTION_KEYS: `new:${key32},old:${key16}` }, 'LATENT_WORKER_ENCRYPTION_KEYS: key "old" is 16 bytes'],
    ['a bad key id', { LATENT_WORKER_ENCRYPTION_KEYS: `new key:${key32}` }, 'LATENT_WORKER_ENCRYPTION_KEYS: entry 1 has key id "new key"'],
    ['a key id twice', { LATENT_WORKER_ENCRYPTION_KEYS: `k:${key32},k:${key32}` }, 'LATENT_WORKER_ENCRYPTION_KEYS: key id "k" appears twice'],
    ['both variables', { LATENT_WORKER_ENCRYPTION_KEYS: `k:${key32}`, LATENT_WORKER_ENCRYPTION_KEY: key32 }, 'set one of LATENT_WORKER_ENCRYPTION_KEYS, LATENT_WORKER_ENCRYPTION_KEY or LATENT_WORKER_ENCRYPTION_KEYS_FILE, not LATENT_WORKER_ENCRYPTION_KEYS and LATENT_WORKER_ENCRYPTION_KEY'],
    ['a key file that is not there', { LATENT_WORKER_ENCRYPTION_KEYS_FILE: '/nonexistent/keys' }, 'LATENT_WORKER_ENCRYPTION_KEYS_FILE (/nonexistent/keys) cannot be read: ENOENT'],
  ])('refuses %s, naming the variable and never the key', (_what, env, expected) => {
    let error: unknown;
    try {
      keyRingFromEnv(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EncryptionKeyError);
    const message = (error as Error).message;
    expect(message).toContain(expected);
    for (const key of [key16, key32, 'not base64!!']) expect(message).not.toContain(key);
  });
});

// What the brief calls spec fields: none may be readable in the history without the keys.
const META_CANARY = 'meta-canary-3b9d1f';
const IMAGE_NAME = 'buildbot-worker-trixie';
const IMAGE_ID = '3f0b8868-67e7-4a5b-b685-2824709bd486';
const FLAVOR_NAME = 'm1.small';
const MISSING_FLAVOR = 'flavor-canary-no-such';
const PROPERTIES = { branch: 'property-canary-77' };

describe('a lifecycle with payload encryption on', () => {
  let rig: LifecycleRig;
  let plain: Client;

  beforeAll(async () => {
    const v3User = { os_username: AUDITED_USER.name, os_password: AUDITED_USER.password, os_tenant_name: AUDITED_USER.project };
    rig = await startLifecycleRig(
      [
        { name: 'sealed', flavor: FLAVOR_NAME, image: IMAGE_NAME, meta: { purpose: META_CANARY }, ...v3User },
        {
          name: 'sealed-appcred',
          os_username: undefined,
          os_password: undefined,
          os_tenant_name: undefined,
          os_auth_args: { auth_type: 'v3applicationcredential', application_credential_id: APPLICATION_CREDENTIAL.id, application_credential_secret: APPLICATION_CREDENTIAL.secret },
        },
        { name: 'sealed-failing', flavor: MISSING_FLAVOR, ...v3User },
      ],
      { dataConverter: dataConverterFromEnv(ROTATED_ENV), simulator: { bootDelayMs: 300, deleteDelayMs: 100, users: [...defaultUsers, AUDITED_USER] }, keystone: 'v3' },
    );
    plain = await connectClient();
  });

  afterAll(async () => {
    await plain?.connection.close();
    await rig?.stop();
  });

  async function release(base: string): Promise<string> {
    const name = rig.nameOf(base);
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor(PROPERTIES), { properties: PROPERTIES });
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
    await rig.client.attached(name);
    await rig.client.release(name);
    expect((await handle.result()).outcome).toBe('released');
    return name;
  }

  it('leaves nothing of the spec, the activity results or the summaries readable in the history', async () => {
    const [name] = await Promise.all([release('sealed'), release('sealed-appcred')]);
    const handle = rig.client.handle(name);
    const { status } = await handle.result();
    const raw = readable(await plain.workflow.getHandle(handle.workflowId).fetchHistory());

    // Every payload is sealed with the current key, and holds the canaries once decrypted.
    expect(raw.payloads.length).toBeGreaterThan(10);
    expect(new Set(raw.payloads.map(({ encoding, keyId }) => `${encoding} ${keyId}`))).toEqual(new Set([`${ENCRYPTED_ENCODING} ${TEST_KEYS.current.id}`]));
    const decrypted = await codecOf(ROTATED_ENV).decode(raw.payloads.map(({ payload }) => payload));
    const plaintext = decrypted.map((payload) => Buffer.from(payload.data!).toString()).join('\n');
    for (const canary of [META_CANARY, IMAGE_ID, IMAGE_NAME, FLAVOR_NAME, status.serverId!, PROPERTIES.branch]) expect(plaintext).toContain(canary);

    // Without the keys, none of it: not in payload bytes, not in any other field. The server id
    // and the cloud are search attributes, which Temporal never encrypts (and which hold no secret).
    for (const canary of [META_CANARY, IMAGE_ID, IMAGE_NAME, FLAVOR_NAME, status.serverId!, PROPERTIES.branch]) {
      expect(raw.payloads.filter(({ payload }) => Buffer.from(payload.data!).toString('latin1').includes(canary))).toEqual([]);
      expect(raw.strings.filter((text) => text.includes(canary))).toEqual([]);
    }
    expect(raw.searchAttributeStrings.join(' ')).toContain(status.serverId!);
    const markerNames = new Set<string>();
    const localActivities: string[] = [];
    for (const marker of raw.markers) {
      const { markerName, details } = marker as { markerName: string; details: Record<string, { payloads: { metadata: { encoding: string }; data: string }[] }> };
      markerNames.add(markerName);
      const decoded = (name: string) => details[name]!.payloads.map(({ metadata, data }) => ({ encoding: Buffer.from(metadata.encoding, 'base64').toString(), text: Buffer.from(data, 'base64').toString() }));
      if (markerName === 'core_local_activity') {
        // The quick steps and the create's and the delete's first tries: the SDK's bookkeeping in plain JSON (which activity, when), each result sealed.
        localActivities.push(...decoded('data').map(({ text }) => (JSON.parse(text) as { activity_type: string }).activity_type));
        expect(decoded('result').map(({ encoding }) => encoding)).toEqual([ENCRYPTED_ENCODING]);
        continue;
      }
      // The shape's patch id (src/workflows/shape.ts), which holds nothing of the input.
      expect(markerName).toBe('core_patch');
      const patches = Object.values(details).flatMap(({ payloads }) => payloads.map(({ data }) => JSON.parse(Buffer.from(data, 'base64').toString()) as unknown));
      expect(patches).toEqual(patches.map(() => ({ id: expect.any(String), deprecated: false })));
    }
    expect(markerNames).toEqual(new Set(['core_patch', 'core_local_activity']));
    expect(localActivities).toEqual(['checkInputAuthenticateResolveImage', 'createServerPromptly', 'deleteServerPromptly']);

    // A client with the keys reads it all back; one without cannot.
    expect(await (await rig.client.temporal.workflow.getHandle(handle.workflowId).describe()).staticSummary()).toContain(`flavor ${FLAVOR_NAME}`);
    await expect(plain.workflow.getHandle(handle.workflowId).result()).rejects.toThrow(`Unknown encoding: ${ENCRYPTED_ENCODING}`);
  });

  it('encrypts failure messages and stack traces too', async () => {
    const name = rig.nameOf('sealed-failing');
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    const failure = await handle.result().then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // The create's first try (a local activity, whose failure comes unwrapped) met the unknown flavor, which the lifecycle fails with.
    const cause = (failure as WorkflowFailedError).cause;
    const innermost = cause instanceof ActivityFailure ? cause.cause : cause;
    expect(innermost).toBeInstanceOf(ApplicationFailure);
    expect((innermost as ApplicationFailure).message).toContain(`no flavor has the id or name '${MISSING_FLAVOR}'`);

    const raw = readable(await plain.workflow.getHandle(handle.workflowId).fetchHistory());
    // The lifecycle's own failure, and the try's, which its local-activity marker holds.
    const failures = [...raw.failures, ...raw.markers.flatMap((marker) => (marker as { failure?: ReadableFailure }).failure ?? [])];
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const { message, stackTrace, encodedAttributes } of failures) {
      expect(message).toBe('Encoded failure');
      expect(stackTrace ?? '').toBe('');
      expect(encodedAttributes).toBeDefined();
    }
    expect(raw.strings.filter((text) => text.includes(MISSING_FLAVOR))).toEqual([]);
    expect(raw.payloads.filter(({ payload }) => Buffer.from(payload.data!).toString('latin1').includes(MISSING_FLAVOR))).toEqual([]);
    expect(rig.simulator.requests().filter((request) => request.method === 'POST' && JSON.stringify(request.body).includes(`"${name}-`))).toEqual([]);
  });

  it("refuses to read a history with a key ring that lacks its key, or with another key of the same id", async () => {
    const workflowId = rig.client.handle(rig.nameOf('sealed')).workflowId;
    const before = await connectClient(temporalAddress(), dataConverterFromEnv(PREVIOUS_ENV));
    const stranger = await connectClient(temporalAddress(), dataConverterFromEnv({ LATENT_WORKER_ENCRYPTION_KEYS: `${TEST_KEYS.stranger.id}:${TEST_KEYS.stranger.base64}` }));
    try {
      await expect(before.workflow.getHandle(workflowId).result()).rejects.toThrow('a payload was encrypted with key "test-2", which LATENT_WORKER_ENCRYPTION_KEYS does not hold');
      await expect(stranger.workflow.getHandle(workflowId).result()).rejects.toThrow('cannot decrypt a payload with key "test-2"');
    } finally {
      await before.connection.close();
      await stranger.connection.close();
    }
  });

  it("applies to the CLI's clients: with the keys it reads the status, without them it says what is missing", async () => {
    const name = rig.nameOf('sealed');
    const env = { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: rig.client.taskQueue };
    const status = (keys: Record<string, string>) => cli(['status', name, '--json'], { ...env, ...keys });
    const withKeys = await status(ROTATED_ENV);
    expect(withKeys.code).toBe(EXIT.ok);
    expect(JSON.parse(withKeys.stdout)).toMatchObject({ workerName: name, outcome: 'released' });
    const without = await status({});
    expect(without.code).toBe(EXIT.failure);
    expect(without.stderr).toContain('the worker encrypts payloads; give this client the same keys (LATENT_WORKER_ENCRYPTION_KEYS)');
    const malformed = await status({ LATENT_WORKER_ENCRYPTION_KEY: 'c2hvcnQ=' });
    expect(malformed.code).toBe(EXIT.usage);
    expect(malformed.stderr).toContain('LATENT_WORKER_ENCRYPTION_KEY is 5 bytes');
    expect(malformed.stderr).not.toContain('c2hvcnQ=');
  });

  describe('the codec server, over HTTP', () => {
    const origin = 'http://127.0.0.1:8233';
    let server: CodecServer;

    beforeAll(async () => {
      server = await startCodecServer({ codec: codecOf(ROTATED_ENV), port: 0, origins: [origin] });
    });

    afterAll(async () => {
      await server?.close();
    });

    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, signal: AbortSignal.timeout(10_000) });
    const asJson = (payload: Payload) => ({
      metadata: Object.fromEntries(Object.entries(payload.metadata!).map(([key, value]) => [key, Buffer.from(value!).toString('base64')])),
      data: Buffer.from(payload.data!).toString('base64'),
    });

    it('encodes and decodes in the Web UI protocol, and allows the UI origin', async () => {
      const original = asJson(jsonPayload({ hello: 'codec server' }));
      const encoded = await post('/encode', JSON.stringify({ payloads: [original] }), { origin });
      expect(encoded.status).toBe(200);
      expect(encoded.headers.get('access-control-allow-origin')).toBe(origin);
      const { payloads } = (await encoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
      expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
      const decoded = await post('/decode', JSON.stringify({ payloads }));
      expect(await decoded.json()).toEqual({ payloads: [original] });
    });

    it('decodes what the worker wrote, as the Web UI asks for it', async () => {
      const history = readable(await plain.workflow.getHandle(rig.client.handle(rig.nameOf('sealed')).workflowId).fetchHistory());
      const decoded = await post('/decode', JSON.stringify({ payloads: history.payloads.map(({ payload }) => asJson(payload)) }), { origin });
      const { payloads } = (await decoded.json()) as { payloads: { data: string }[] };
      expect(payloads.map(({ data }) => Buffer.from(data, 'base64').toString()).join('\n')).toContain(META_CANARY);
    });

    it("answers the browser's CORS preflight for the UI origin only", async () => {
      const preflight = (from: string) =>
        fetch(`${server.url}/decode`, {
          method: 'OPTIONS',
          headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
          signal: AbortSignal.timeout(10_000),
        });
      const allowed = await preflight(origin);
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
      expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
      expect(allowed.headers.get('access-control-allow-headers')).toBe('Content-Type, X-Namespace');
      const refused = await preflight('http://evil.example');
      expect(refused.status).toBe(403);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('refuses bad requests with a status that says why', async () => {
      expect((await post('/decode', '{not json')).status).toBe(400);
      expect((await post('/decode', '{"payloads": {}}')).status).toBe(400);
      expect((await post('/decode', '{"payloads": [{"data": "%%%"}]}')).status).toBe(400);
      expect((await post('/elsewhere', '{}')).status).toBe(404);
      const get = await fetch(`${server.url}/decode`, { signal: AbortSignal.timeout(10_000) });
      expect(get.status).toBe(405);
      const [stale] = await codecOf({ LATENT_WORKER_ENCRYPTION_KEYS: `gone:${TEST_KEYS.stranger.base64}` }).encode([jsonPayload(1)]);
      const unknownKey = await post('/decode', JSON.stringify({ payloads: [asJson(stale!)] }));
      expect(unknownKey.status).toBe(422);
      expect(((await unknownKey.json()) as { error: string }).error).toContain('encrypted with key "gone"');
    });
  });
});

/** Runs the CLI until `ready` shows in its output; returns the output so far and a way to stop it. */
async function startCli(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ output: string; match: RegExpExecArray; stop(signal: NodeJS.Signals): Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/client/cli.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const stop = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code] = (await exited) as [number | null];
    clearTimeout(timer);
    return code;
  };
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`latent-worker ${args[0]} was not ready within 90 s: ${output}`)), 90_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const found = ready.exec(output);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    return { output, match, stop };
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
}

describe('latent-worker dev --codec-endpoint', () => {
  it("hands the codec server's address to the Web UI", async () => {
    const ports = await Promise.all([freePort(), freePort()]);
    const dev = await startCli(['dev', '--no-demo', '--port', String(ports[0]), '--ui-port', String(ports[1]), '--codec-endpoint', 'http://127.0.0.1:8888'], ROTATED_ENV, /Ctrl-C stops everything/);
    try {
      expect(dev.output).toContain('[dev] payload encryption on (key "test-2"; also decrypts "test-1")');
      const settings = await fetch(`http://127.0.0.1:${ports[1]}/api/v1/settings`, { signal: AbortSignal.timeout(10_000) });
      expect(((await settings.json()) as { Codec: { Endpoint: string } }).Codec.Endpoint).toBe('http://127.0.0.1:8888');
    } finally {
      expect(await dev.stop('SIGINT')).toBe(0);
    }
  });
});

describe('latent-worker codec-server', () => {
  it('serves until SIGTERM, and refuses to start without keys', async () => {
    const server = await startCli(['codec-server', '--port', '0'], ROTATED_ENV, /listening on (http:\/\/\S+)/);
    try {
      const url = server.match[1]!;
      expect(server.output).toContain('keys "test-2", "test-1"');
      const [sealed] = await codecOf(PREVIOUS_ENV).encode([jsonPayload('via the CLI')]);
      const response = await fetch(`${url}/decode`, {
        method: 'POST',
        body: JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from(sealed!.metadata!.encoding!).toString('base64'), [KEY_ID_METADATA]: Buffer.from(sealed!.metadata![KEY_ID_METADATA]!).toString('base64') }, data: Buffer.from(sealed!.data!).toString('base64') }] }),
        signal: AbortSignal.timeout(10_000),
      });
      const { payloads } = (await response.json()) as { payloads: { data: string }[] };
      expect(Buffer.from(payloads[0]!.data, 'base64').toString()).toBe('"via the CLI"');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }

    const withoutKeys = await cli(['codec-server'], { LATENT_WORKER_ENCRYPTION_KEYS: '', LATENT_WORKER_ENCRYPTION_KEY: '' });
    expect(withoutKeys.code).toBe(EXIT.usage);
    expect(withoutKeys.stderr).toContain('no keys: set LATENT_WORKER_ENCRYPTION_KEYS');
  });
});

interface ReadableHistory {
  payloads: { payload: Payload; encoding: string; keyId?: string }[];
  /** Every other string of the history, search attributes aside. */
  strings: string[];
  searchAttributeStrings: string[];
  /** The SDK's own markers, which it writes without the codec: patch ids, and local activities' bookkeeping (their results go through the codec). */
  markers: unknown[];
  failures: ReadableFailure[];
}

type ReadableFailure = { message?: string; stackTrace?: string; encodedAttributes?: unknown };

/** What anyone with access to the Temporal service, but without the keys, can read. */
function readable(history: Parameters<typeof historyToJSON>[0]): ReadableHistory {
  const found: ReadableHistory = { payloads: [], strings: [], searchAttributeStrings: [], markers: [], failures: [] };
  const visit = (value: unknown, inSearchAttributes: boolean): void => {
    if (typeof value === 'string') {
      (inSearchAttributes ? found.searchAttributeStrings : found.strings).push(value);
      return;
    }
    if (Array.isArray(value)) return value.forEach((item) => visit(item, inSearchAttributes));
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    const metadata = record.metadata as Record<string, string> | undefined;
    if (typeof metadata?.encoding === 'string') {
      const bytes = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64');
      const payload = { metadata: Object.fromEntries(Object.entries(metadata).map(([key, base64]) => [key, bytes(base64)])), data: bytes(record.data as string | undefined) };
      if (inSearchAttributes) found.searchAttributeStrings.push(payload.data.toString());
      else found.payloads.push({ payload, encoding: bytes(metadata.encoding).toString(), keyId: metadata[KEY_ID_METADATA] && bytes(metadata[KEY_ID_METADATA]).toString() });
      return;
    }
    if (typeof record.message === 'string' && 'encodedAttributes' in record) found.failures.push(record);
    else if (typeof record.message === 'string' && ('source' in record || 'applicationFailureInfo' in record || 'activityFailureInfo' in record)) found.failures.push(record);
    for (const [key, item] of Object.entries(record)) {
      if (key === 'markerRecordedEventAttributes') found.markers.push(item);
      else visit(item, inSearchAttributes || key === 'searchAttributes');
    }
  };
  visit(JSON.parse(historyToJSON(history)), false);
  return found;
}
