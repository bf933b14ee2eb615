import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { SMTPServerOptions } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { header, parseMessage, startSmtp as startSmtpPeer, type SmtpPeer } from './support/smtpPeer.js';
import type { MissingNotifier, MissingReport } from '../src/activities/notify.js';
import {
  compositeNotifier,
  notifierFromSettings,
  smtpNotifier,
  webhookNotifier,
  type NotifyLogger,
} from '../src/activities/notifiers/index.js';
import { ConfigError } from '../src/config/errors.js';
import { resolveNotifySettings, type SmtpSettings, type WebhookSettings } from '../src/config/notify.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/tls/${name}`, import.meta.url), 'utf8');
const tls = { key: fixture('server.key'), cert: fixture('server.pem') };
const ca = fixture('ca.pem');

const USER = 'ci-mailer';
const PASSWORD = 'S3cret-smtp-pässword';
const SECRET_HEADER = 'Bearer hook-token-0123456789';

const missing: MissingReport = {
  kind: 'missing',
  workerName: 'bot2',
  workflowId: 'latent-worker:bot2',
  cloud: 'mycloud',
  serverId: '9f1a2b3c-0000-4000-8000-00000000beef',
  serverName: 'bot2-7d1e-1',
  status: 'ACTIVE',
  fault: 'NoValidHost: No valid host was found. There are not enough hosts available.',
  // Raw terminal output, colour codes and carriage returns included, as Nova returns it.
  consoleTail: '[  OK  ] Started \x1b[0;1;39mOpenSSH server\x1b[0m.\r\nUbuntu 24.04 LTS bot2 ttyS0 — ready\r\nbuildbot-worker: connection refused by master:9989\r\n',
  recipients: ['ops@example.org', 'ci-admins@example.org'],
  missingTimeoutSeconds: 1200,
  at: '2025-01-02T03:04:05.000Z',
};

const failed: MissingReport = {
  kind: 'failed',
  workerName: 'bot3',
  workflowId: 'latent-worker:bot3',
  cloud: 'mycloud',
  recipients: ['ops@example.org'],
  missingTimeoutSeconds: 1200,
  reasons: ['server bot3-1 went to ERROR: NoValidHost', 'server bot3-2 did not reach ACTIVE within 600 s', 'server bot3-3 went to ERROR: disk full'],
  at: '2025-01-02T03:04:05.000Z',
};

interface Logged {
  level: 'info' | 'warn';
  message: string;
  meta: unknown;
}

function recordingLogger(): NotifyLogger & { lines: Logged[] } {
  const lines: Logged[] = [];
  return {
    lines,
    info: (message, meta) => void lines.push({ level: 'info', message, meta }),
    warn: (message, meta) => void lines.push({ level: 'warn', message, meta }),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  const failure = error as ApplicationFailure;
  // Nothing beyond the message travels: no cause, no raw library error with its AUTH command.
  expect(failure.cause).toBeUndefined();
  return failure;
}

// ---------------------------------------------------------------------------------------------
// SMTP: a real server from smtp-server on loopback

const startSmtp = (options: SMTPServerOptions): Promise<SmtpPeer> => startSmtpPeer(options, { user: USER, password: PASSWORD });

function smtpSettings(port: number, overrides: Partial<SmtpSettings> = {}): SmtpSettings {
  return {
    host: '127.0.0.1',
    port,
    secure: false,
    starttls: 'optional',
    user: USER,
    password: PASSWORD,
    from: 'Latent workers <latent@example.org>',
    timeoutSeconds: 5,
    rejectUnauthorized: true,
    ...overrides,
  };
}

describe('SMTP notifier', () => {
  const peers: SmtpPeer[] = [];
  const smtp = async (options: SMTPServerOptions) => {
    const peer = await startSmtp(options);
    peers.push(peer);
    return peer;
  };
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.close()));
  });

  it('sends one email to every recipient, naming the worker, server, cloud, status, fault and console tail', async () => {
    // Plain TCP on loopback: auth is required but allowed without TLS.
    const peer = await smtp({ authOptional: false, allowInsecureAuth: true, disabledCommands: ['STARTTLS'] });
    const logger = recordingLogger();

    await smtpNotifier(smtpSettings(peer.port, { starttls: 'off' }), logger).notifyMissing(missing);

    expect(peer.received).toHaveLength(1);
    const [mail] = peer.received;
    expect(mail!.from).toBe('latent@example.org');
    expect(mail!.to).toEqual(['ops@example.org', 'ci-admins@example.org']);
    expect(mail!.user).toBe(USER);
    const { headers, body } = parseMessage(mail!.raw);
    expect(header(headers, 'Subject')).toBe('[latent-worker] bot2 is missing: server bot2-7d1e-1 never attached');
    expect(header(headers, 'To')).toBe('ops@example.org, ci-admins@example.org');
    expect(header(headers, 'From')).toBe('Latent workers <latent@example.org>');
    expect(body).toContain('no CI worker attached to it within 20 min (1200 s)');
    expect(body).toContain('Worker:   bot2');
    expect(body).toContain('Workflow: latent-worker:bot2');
    expect(body).toContain('Cloud:    mycloud');
    expect(body).toContain('Server:   bot2-7d1e-1 (9f1a2b3c-0000-4000-8000-00000000beef)');
    expect(body).toContain('Status:   ACTIVE');
    expect(body).toContain('Fault:    NoValidHost: No valid host was found. There are not enough hosts available.');
    // The console tail arrives as text: colour codes and carriage returns gone, UTF-8 intact.
    expect(body).toContain(
      'Console log (last lines):\n\n[  OK  ] Started OpenSSH server.\nUbuntu 24.04 LTS bot2 ttyS0 — ready\nbuildbot-worker: connection refused by master:9989\n',
    );
    expect(body).not.toContain('\x1b');
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'info', message: expect.stringContaining('emailed ops@example.org, ci-admins@example.org') })]);
  });

  it('says in the email that a server could not be deleted for a long time, with the last error, and that the delete goes on', async () => {
    const peer = await smtp({ authOptional: false, allowInsecureAuth: true, disabledCommands: ['STARTTLS'] });
    const undeletable: MissingReport = {
      kind: 'undeletable',
      workerName: 'bot2',
      workflowId: 'latent-worker:bot2',
      cloud: 'mycloud',
      serverId: '9f1a2b3c-0000-4000-8000-00000000beef',
      serverName: '',
      status: 'unknown',
      recipients: ['ops@example.org'],
      missingTimeoutSeconds: 0,
      stuckSeconds: 1830,
      lastError: 'compute deleteServer failed: 409 Conflict: Instance 9f1a2b3c is locked',
      at: '2025-01-02T03:04:05.000Z',
    };
    await smtpNotifier(smtpSettings(peer.port, { starttls: 'off' }), recordingLogger()).notifyMissing(undeletable);
    const { headers, body } = parseMessage(peer.received[0]!.raw);
    expect(header(headers, 'Subject')).toBe('[latent-worker] bot2: server 9f1a2b3c-0000-4000-8000-00000000beef could not be deleted for 1830 s; still trying');
    expect(body).toContain('has not been deleted for 1830 s: every try failed. The lifecycle keeps trying');
    expect(body).toContain('Last error: compute deleteServer failed: 409 Conflict: Instance 9f1a2b3c is locked');
    expect(body).toContain('Server:   (unnamed) (9f1a2b3c-0000-4000-8000-00000000beef)');
  });

  it('upgrades with STARTTLS when required, trusting the configured CA, and logs in over TLS only', async () => {
    // No allowInsecureAuth: the server refuses AUTH before STARTTLS.
    const peer = await smtp({ ...tls, authOptional: false });

    await smtpNotifier(smtpSettings(peer.port, { starttls: 'required', ca }), recordingLogger()).notifyMissing(missing);

    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]!.secure).toBe(true);
    expect(peer.received[0]!.user).toBe(USER);
  });

  it('speaks TLS from the first byte when secure is set', async () => {
    const peer = await smtp({ ...tls, secure: true, authOptional: false });

    await smtpNotifier(smtpSettings(peer.port, { secure: true, ca }), recordingLogger()).notifyMissing(failed);

    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]!.secure).toBe(true);
    expect(peer.received[0]!.to).toEqual(['ops@example.org']);
    const { headers, body } = parseMessage(peer.received[0]!.raw);
    expect(header(headers, 'Subject')).toBe('[latent-worker] bot3 failed to start: all 3 launch attempts failed');
    expect(body).toContain('  Attempt 2: server bot3-2 did not reach ACTIVE within 600 s');
    expect(body).toContain('Server:   none left');
    expect(body).toContain('Console log: not available.');
  });

  it('refuses a server certificate it was not told to trust', async () => {
    const peer = await smtp({ ...tls, secure: true, authOptional: false });

    const failure = await failureOf(smtpNotifier(smtpSettings(peer.port, { secure: true }), recordingLogger()).notifyMissing(missing));

    expect(failure.message).toMatch(/^SMTP server 127\.0\.0\.1:\d+: sending the email failed/);
    expect(failure.message).toMatch(/certificate/i);
    expect(peer.received).toHaveLength(0);
  });

  it('fails when STARTTLS is required and the server does not offer it', async () => {
    const peer = await smtp({ authOptional: true, disabledCommands: ['STARTTLS'] });

    const failure = await failureOf(smtpNotifier(smtpSettings(peer.port, { starttls: 'required', user: undefined, password: undefined }), recordingLogger()).notifyMissing(missing));

    expect(failure.message).toMatch(/STARTTLS/);
    expect(peer.received).toHaveLength(0);
  });

  it('says the login was refused, without the password, and does not retry it', async () => {
    const peer = await smtp({ authOptional: false, allowInsecureAuth: true, disabledCommands: ['STARTTLS'] });
    const wrong = 'Wr0ng-pässword-4711';

    const failure = await failureOf(smtpNotifier(smtpSettings(peer.port, { starttls: 'off', password: wrong }), recordingLogger()).notifyMissing(missing));

    expect(peer.logins).toEqual([{ username: USER, password: wrong }]);
    expect(failure.message).toMatch(/^SMTP server 127\.0\.0\.1:\d+: logging in as ci-mailer failed \[EAUTH\]: .*535 Invalid username or password/);
    expect(failure.nonRetryable).toBe(true);
    const everything = JSON.stringify({ message: failure.message, stack: failure.stack, details: failure.details, type: failure.type });
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(Buffer.from(wrong).toString('base64'));
    expect(everything).not.toContain(Buffer.from(`\0${USER}\0${wrong}`).toString('base64'));
    expect(peer.received).toHaveLength(0);
  });

  it('sends nothing when the report has no recipients', async () => {
    const peer = await smtp({ authOptional: true, disabledCommands: ['STARTTLS'] });
    const logger = recordingLogger();

    await smtpNotifier(smtpSettings(peer.port, { starttls: 'off' }), logger).notifyMissing({ ...missing, recipients: [] });

    expect(peer.received).toHaveLength(0);
    expect(peer.logins).toHaveLength(0);
    expect(logger.lines[0]!.message).toBe('no notify_on_missing addresses for worker bot2: no email sent');
  });

  it('gives up on a server that accepts the connection but never greets, within the timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      const failure = await failureOf(smtpNotifier(smtpSettings(port, { timeoutSeconds: 0.5 }), recordingLogger()).notifyMissing(missing));

      expect(Date.now() - started).toBeLessThan(3000);
      // Which of nodemailer's timers (greeting or socket, both 0.5 s here) fires first depends on load.
      expect(failure.message).toMatch(/\[ETIMEDOUT\]: (Greeting never received|Timeout)/);
      expect(failure.nonRetryable).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await closeTcp(silent);
    }
  });

  it('reports a refused connection as retryable', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await closeTcp(closed);

    const failure = await failureOf(smtpNotifier(smtpSettings(port), recordingLogger()).notifyMissing(missing));

    expect(failure.message).toMatch(/ECONNREFUSED/);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('SmtpUnavailable');
  });
});

function closeTcp(server: TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// Webhook: a real node:http server on loopback

interface Hit {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

type Responder = (response: ServerResponse) => void;

describe('webhook notifier', () => {
  const hits: Hit[] = [];
  let respond: Responder = (response) => response.writeHead(204).end();
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      hits.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      respond(response);
    });
  });
  let base = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    hits.length = 0;
    respond = (response) => response.writeHead(204).end();
    server.closeAllConnections();
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // The path plays a Slack-style secret URL: it must not show up in errors or logs.
  const settings = (overrides: Partial<WebhookSettings> = {}): WebhookSettings => ({
    url: `${base}/hooks/T0001/B0002/secret-path-token?sig=abc123`,
    headers: { Authorization: SECRET_HEADER, 'X-Team': 'ci' },
    timeoutSeconds: 2,
    ...overrides,
  });

  it('POSTs the report as JSON with the configured headers', async () => {
    const logger = recordingLogger();

    await webhookNotifier(settings(), logger).notifyMissing(missing);

    expect(hits).toHaveLength(1);
    const [hit] = hits;
    expect(hit!.method).toBe('POST');
    expect(hit!.url).toBe('/hooks/T0001/B0002/secret-path-token?sig=abc123');
    expect(hit!.headers['content-type']).toBe('application/json');
    expect(hit!.headers.authorization).toBe(SECRET_HEADER);
    expect(hit!.headers['x-team']).toBe('ci');
    expect(JSON.parse(hit!.body)).toEqual(missing);
    expect(logger.lines.map((line) => line.message)).toEqual([`posted the report on worker bot2 to webhook ${base} (204)`]);
  });

  it('turns a 5xx answer into a retryable failure that names the status', async () => {
    respond = (response) => response.writeHead(503, { 'content-type': 'text/plain' }).end(`overloaded; you sent ${SECRET_HEADER}`);

    const failure = await failureOf(webhookNotifier(settings(), recordingLogger()).notifyMissing(missing));

    expect(failure.message).toBe(`webhook ${base} answered 503: overloaded; you sent [redacted]`);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('WebhookUnavailable');
  });

  it('turns a 4xx answer into a non-retryable failure', async () => {
    respond = (response) => response.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');

    const failure = await failureOf(webhookNotifier(settings(), recordingLogger()).notifyMissing(missing));

    expect(failure.message).toBe(`webhook ${base} answered 400: invalid_payload`);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('WebhookRejected');
  });

  it('treats 429 as "later", not "never"', async () => {
    respond = (response) => response.writeHead(429).end();

    const failure = await failureOf(webhookNotifier(settings(), recordingLogger()).notifyMissing(missing));

    expect(failure.message).toBe(`webhook ${base} answered 429`);
    expect(failure.nonRetryable).toBe(false);
  });

  it('gives up on a receiver that never answers, within the timeout', async () => {
    respond = () => undefined;
    const started = Date.now();

    const failure = await failureOf(webhookNotifier(settings({ timeoutSeconds: 0.3 }), recordingLogger()).notifyMissing(missing));

    expect(Date.now() - started).toBeLessThan(2000);
    expect(failure.message).toBe(`webhook ${base}: no answer within 0.3 s`);
    expect(failure.nonRetryable).toBe(false);
  });

  it('reports a refused connection as retryable, without the secret URL path', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await closeTcp(closed);

    const failure = await failureOf(
      webhookNotifier(settings({ url: `http://127.0.0.1:${port}/hooks/secret-path-token` }), recordingLogger()).notifyMissing(missing),
    );

    expect(failure.message).toMatch(new RegExp(`^webhook http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    expect(failure.message).not.toContain('secret-path-token');
    expect(failure.nonRetryable).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Composite: every channel, failures after all were tried

function channel(name: string, outcomes: (Error | undefined)[]): { name: string; notifier: MissingNotifier; calls: number } {
  const entry = {
    name,
    calls: 0,
    notifier: {
      notifyMissing: async () => {
        const outcome = outcomes[entry.calls++];
        if (outcome) throw outcome;
      },
    },
  };
  return entry;
}

describe('composite notifier', () => {
  it('tries every channel, then fails naming each failed one; retryable when any failure is', async () => {
    const email = channel('smtp', [ApplicationFailure.nonRetryable('SMTP server x:25: refused', 'SmtpRejected')]);
    const hook = channel('webhook', [ApplicationFailure.retryable('webhook http://h answered 503', 'WebhookUnavailable')]);
    const logger = recordingLogger();

    const failure = await failureOf(compositeNotifier([email, hook], logger).notifyMissing(missing));

    expect(failure.message).toBe('smtp: SMTP server x:25: refused; webhook: webhook http://h answered 503');
    expect(failure.nonRetryable).toBe(false);
    expect(email.calls).toBe(1);
    expect(hook.calls).toBe(1);
    expect(logger.lines.map((line) => line.message)).toEqual([
      'notifying smtp about worker bot2 failed: SMTP server x:25: refused',
      'notifying webhook about worker bot2 failed: webhook http://h answered 503',
    ]);
  });

  it('is non-retryable only when every failed channel said so', async () => {
    const email = channel('smtp', [ApplicationFailure.nonRetryable('login refused', 'SmtpRejected')]);
    const hook = channel('webhook', [undefined]);

    const failure = await failureOf(compositeNotifier([email, hook], recordingLogger()).notifyMissing(missing));

    expect(failure.message).toBe('smtp: login refused');
    expect(failure.nonRetryable).toBe(true);
  });

  it('on a retry of the same report, sends only on the channels that failed', async () => {
    const email = channel('smtp', [undefined, undefined]);
    const hook = channel('webhook', [new Error('connection reset'), undefined]);
    const notifier = compositeNotifier([email, hook], recordingLogger());

    await expect(notifier.notifyMissing(missing)).rejects.toThrow('webhook: connection reset');
    await notifier.notifyMissing(structuredClone(missing));
    // A different report (another lifecycle) goes everywhere again.
    await notifier.notifyMissing({ ...missing, workflowId: 'latent-worker:bot9' });

    expect(email.calls).toBe(2);
    expect(hook.calls).toBe(3);
  });

  it('from settings: logs always, and emails and posts when configured', async () => {
    const peer = await startSmtp({ authOptional: true, disabledCommands: ['STARTTLS'] });
    const hits: string[] = [];
    const server = createHttpServer((request, response) => {
      request.on('data', (chunk: Buffer) => hits.push(chunk.toString()));
      request.on('end', () => response.writeHead(200).end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const settings = resolveNotifySettings(
        {
          smtp: { host: '127.0.0.1', port: peer.port, starttls: 'off', from: 'ci@example.org' },
          webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify` },
        },
        {},
      );
      const logger = recordingLogger();

      await notifierFromSettings(settings, logger).notifyMissing(missing);

      expect(peer.received.map((mail) => mail.to)).toEqual([missing.recipients]);
      expect(JSON.parse(hits.join(''))).toEqual(missing);
      const warning = logger.lines.find((line) => line.level === 'warn')!;
      expect(warning.message).toBe(
        'bot2 is missing: server bot2-7d1e-1 never attached (server 9f1a2b3c-0000-4000-8000-00000000beef, status ACTIVE); ' +
          'notify_on_missing: ops@example.org, ci-admins@example.org',
      );
      expect(warning.meta).toEqual(missing);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await peer.close();
    }
  });

  it('from empty settings: only the log line, with or without a server in the report', async () => {
    const logger = recordingLogger();

    await notifierFromSettings(resolveNotifySettings(undefined, {}), logger).notifyMissing(failed);

    await notifierFromSettings({}, logger).notifyMissing({ ...failed, serverId: '', serverName: '', at: 'later' });

    expect(logger.lines.map((line) => line.message)).toEqual([
      'bot3 failed to start: all 3 launch attempts failed; notify_on_missing: ops@example.org',
      'bot3 failed to start: all 3 launch attempts failed; notify_on_missing: ops@example.org',
    ]);
    expect(logger.lines[0]!.meta).toEqual(failed);
  });
});

// ---------------------------------------------------------------------------------------------
// Settings

function settingsError(raw: unknown, env: Record<string, string> = {}): string {
  try {
    resolveNotifySettings(raw, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the settings to be refused');
}

describe('notify settings', () => {
  it('is empty when neither the file nor the environment configures anything', () => {
    expect(resolveNotifySettings(undefined, {})).toEqual({});
    expect(resolveNotifySettings({}, { LATENT_WORKER_SMTP_HOST: '' })).toEqual({});
  });

  it('fills in the defaults', () => {
    expect(resolveNotifySettings({ smtp: { host: 'mail.example.org', from: 'ci@example.org' }, webhook: { url: 'https://hooks.example.org/x' } }, {})).toEqual({
      smtp: {
        host: 'mail.example.org',
        port: 587,
        secure: false,
        starttls: 'optional',
        from: 'ci@example.org',
        timeoutSeconds: 30,
        rejectUnauthorized: true,
      },
      webhook: { url: 'https://hooks.example.org/x', headers: {}, timeoutSeconds: 10 },
    });
    expect(resolveNotifySettings({ smtp: { host: 'mail.example.org', from: 'CI <ci@example.org>', secure: true } }, {}).smtp).toMatchObject({
      port: 465,
      secure: true,
    });
  });

  it('lets the environment override the file and fill in what it lacks', () => {
    const settings = resolveNotifySettings(
      { smtp: { host: 'file.example.org', port: 2525, from: 'ci@example.org', tls: { rejectUnauthorized: false } } },
      {
        LATENT_WORKER_SMTP_HOST: 'env.example.org',
        LATENT_WORKER_SMTP_PORT: '1465',
        LATENT_WORKER_SMTP_SECURE: 'yes',
        LATENT_WORKER_SMTP_STARTTLS: 'required',
        LATENT_WORKER_SMTP_USER: 'mailer',
        LATENT_WORKER_SMTP_PASSWORD: PASSWORD,
        LATENT_WORKER_WEBHOOK_URL: 'https://hooks.example.org/env',
      },
    );
    expect(settings).toEqual({
      smtp: {
        host: 'env.example.org',
        port: 1465,
        secure: true,
        starttls: 'required',
        user: 'mailer',
        password: PASSWORD,
        from: 'ci@example.org',
        timeoutSeconds: 30,
        rejectUnauthorized: false,
      },
      webhook: { url: 'https://hooks.example.org/env', headers: {}, timeoutSeconds: 10 },
    });
  });

  it('configures SMTP from the environment alone', () => {
    const smtp = resolveNotifySettings(undefined, {
      LATENT_WORKER_SMTP_HOST: 'mail.example.org',
      LATENT_WORKER_SMTP_FROM: 'CI <ci@example.org>',
      LATENT_WORKER_SMTP_SECURE: 'true',
    }).smtp;
    expect(smtp).toMatchObject({ host: 'mail.example.org', port: 465, secure: true, from: 'CI <ci@example.org>' });
  });

  it('reads the CA file relative to the base directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'notify-ca-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), ca);
      const smtp = resolveNotifySettings({ smtp: { host: 'h', from: 'ci@example.org', tls: { ca: 'ca.pem' } } }, {}, { baseDir: dir }).smtp;
      expect(smtp?.ca).toBe(ca);
      expect(settingsError({ smtp: { host: 'h', from: 'ci@example.org', tls: { ca: join(dir, 'missing.pem') } } })).toContain(
        `notify.smtp.tls.ca: cannot read ${join(dir, 'missing.pem')}: ENOENT`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the missing field and the variable that could set it', () => {
    expect(settingsError({ smtp: { host: 'mail.example.org' } })).toBe(
      'invalid notify settings:\n  - notify.smtp.from: required: the sender address, e.g. "CI <ci@example.org>" (or set LATENT_WORKER_SMTP_FROM)',
    );
    expect(settingsError(undefined, { LATENT_WORKER_SMTP_PASSWORD: PASSWORD })).toBe(
      'invalid notify settings:\n' +
        '  - notify.smtp.host: required: the SMTP server name or address (or set LATENT_WORKER_SMTP_HOST)\n' +
        '  - notify.smtp.from: required: the sender address, e.g. "CI <ci@example.org>" (or set LATENT_WORKER_SMTP_FROM)',
    );
    expect(settingsError({ webhook: {} })).toBe(
      'invalid notify settings:\n  - notify.webhook.url: required: where to POST reports (or set LATENT_WORKER_WEBHOOK_URL)',
    );
  });

  it('names the bad field and never echoes a secret', () => {
    const base = { host: 'h', from: 'ci@example.org' };
    expect(settingsError({ smtp: { ...base, port: 70000 } })).toContain('notify.smtp.port: must be a port number (1-65535)');
    expect(settingsError({ smtp: { ...base, starttls: 'maybe' } })).toContain('notify.smtp.starttls: must be one of required, optional, off');
    expect(settingsError({ smtp: { ...base, from: 'not an address' } })).toContain('notify.smtp.from: must be an address such as ci@example.org');
    expect(settingsError({ smtp: { ...base, timeoutSeconds: 0 } })).toContain('notify.smtp.timeoutSeconds: must be a positive number of seconds');
    expect(settingsError({ smtp: { ...base, hots: 'typo' } })).toContain('notify.smtp.hots: unknown key');
    expect(settingsError({ smtp: { ...base, user: 'mailer' } })).toBe(
      'invalid notify settings:\n  - notify.smtp.password: required when user is set (or set LATENT_WORKER_SMTP_PASSWORD)',
    );
    expect(settingsError({ smtp: { ...base, password: PASSWORD } })).toContain('notify.smtp.user: required when password is set');
    const withPassword = settingsError({ smtp: { ...base, user: 'mailer', password: PASSWORD, port: 'x' } });
    expect(withPassword).toContain('notify.smtp.port: must be a port number');
    expect(withPassword).not.toContain(PASSWORD);
    expect(settingsError({ smtp: { ...base, user: 'mailer', password: 31337 } })).toBe(
      'invalid notify settings:\n  - notify.smtp.password: must be a string: the SMTP password',
    );
    const badUrl = settingsError({ webhook: { url: 'ftp://hooks.example.org/secret-path-token', headers: { Authorization: 42 } } });
    expect(badUrl).toContain('notify.webhook.url: must be an http(s) URL');
    expect(badUrl).toContain('notify.webhook.headers.Authorization: must be a string');
    expect(badUrl).not.toContain('secret-path-token');
    expect(settingsError({ webhook: { url: 'https://h/x', headers: { 'Bad Header': 'v' } } })).toContain('notify.webhook.headers');
    expect(settingsError({ smtp: 'mail.example.org' })).toContain('notify.smtp: must be a mapping');
  });

  it('names the environment variable when its value is wrong', () => {
    expect(settingsError(undefined, { LATENT_WORKER_SMTP_PORT: 'smtp' })).toBe('LATENT_WORKER_SMTP_PORT: must be a port number (1-65535), got "smtp"');
    expect(settingsError(undefined, { LATENT_WORKER_SMTP_SECURE: 'sometimes' })).toBe('LATENT_WORKER_SMTP_SECURE: must be true or false, got "sometimes"');
    expect(settingsError(undefined, { LATENT_WORKER_SMTP_STARTTLS: 'yes' })).toBe(
      'LATENT_WORKER_SMTP_STARTTLS: must be one of required, optional, off, got "yes"',
    );
    expect(settingsError(undefined, { LATENT_WORKER_WEBHOOK_URL: 'hooks.example.org' })).toContain('notify.webhook.url: must be an http(s) URL');
  });
});
