import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { SMTP_LOGIN } from './support/secrets.js';
import { header, parseMessage, startSmtp, type SmtpPeer } from './support/smtpPeer.js';

// notify_on_missing end to end: a lifecycle whose CI worker never attaches sends an email, over
// SMTP to a real server, naming the worker, its server, its status and its console log tail.
let smtp: SmtpPeer;
let rig: LifecycleRig;
// Shared with the audit of histories, which looks for the password in every one.
const login = SMTP_LOGIN;

beforeAll(async () => {
  smtp = await startSmtp({ authOptional: false, allowInsecureAuth: true, disabledCommands: ['STARTTLS'] }, login);
  rig = await startLifecycleRig(
    [
      { name: 'unattached', missing_timeout: 1, notify_on_missing: ['ops@example.org', 'ci@example.org'] },
      { name: 'never-boots', launch_attempts: 2, notify_on_missing: 'ops@example.org' },
    ],
    { notify: { smtp: { host: '127.0.0.1', port: smtp.port, starttls: 'off', user: login.user, password: login.password, from: 'latent@example.org', timeoutSeconds: 5 } } },
  );
});

afterAll(async () => {
  await rig?.stop();
  await smtp?.close();
});

describe('notify_on_missing over SMTP', () => {
  it('emails the recipients when the worker never attaches, with the diagnostics', async () => {
    const name = rig.nameOf('unattached');
    const result = await (await rig.client.substantiate(rig.config.workers.get(name)!.specFor())).result();
    expect(result.outcome).toBe('missing');

    const mail = smtp.received.find((message) => message.raw.includes(name));
    expect(mail).toBeDefined();
    expect(mail!.from).toBe('latent@example.org');
    expect(mail!.to).toEqual(['ops@example.org', 'ci@example.org']);
    expect(mail!.user).toBe('mailer');
    const { headers, body } = parseMessage(mail!.raw);
    expect(header(headers, 'subject')).toBe(`[latent-worker] ${name} is missing: server ${result.status.serverName} never attached`);
    expect(body).toContain(result.status.serverId!);
    expect(body).toContain('ACTIVE');
    // The simulator serves the fake driver's console text, as a real Nova with the fake driver does.
    expect(body).toMatch(/console/i);
    expect(mail!.raw).not.toContain(login.password);
    expect(rig.simulator.servers()).toEqual([]);
  });

  it('emails every launch failure reason when no launch boots', async () => {
    const name = rig.nameOf('never-boots');
    rig.simulator.faults.inject({ kind: 'bootError', message: 'No space left on hypervisor', namePattern: `^${name}-` });
    const failure = await (await rig.client.substantiate(rig.config.workers.get(name)!.specFor())).result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);

    const mail = smtp.received.find((message) => message.raw.includes(name));
    expect(mail?.to).toEqual(['ops@example.org']);
    const { headers, body } = parseMessage(mail!.raw);
    expect(header(headers, 'subject')).toBe(`[latent-worker] ${name} failed to start: all 2 launch attempts failed`);
    expect(body.match(/No space left on hypervisor/g)).toHaveLength(2);
  });
});
