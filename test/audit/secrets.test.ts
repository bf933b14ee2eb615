import { beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_WORKFLOW_TYPE } from '../../src/contract/names.js';
import * as workflows from '../../src/workflows/index.js';
import { auditServer, describeAudit, HistoryScanner, testCodec, type ServerAudit } from '../support/historyAudit.js';
import { APPLICATION_CREDENTIAL, AUDITED_USER, SMTP_LOGIN, WRONG_PASSWORD } from '../support/secrets.js';
import { temporalAddress } from '../support/temporal.js';

// The architecture's invariant "no password, token or application-credential secret in any
// workflow history", checked on everything the test run left on the shared dev server: this
// file is the `audit` project of vitest.config.ts, which runs after every other test file.
// Payloads are decoded (and decrypted, with the test keys) before they are searched; search
// attributes, memos, user metadata (summaries, details) and failures are payloads or strings
// of the history, so the walk reaches them all (test/support/historyAudit.ts).

let audit: ServerAudit;

beforeAll(async () => {
  audit = await auditServer(temporalAddress());
  console.log(`audit: ${describeAudit(audit)}`);
});

describe('secrets in workflow histories', () => {
  it('can see a secret wherever a history may hold one, and tells it from ordinary words', async () => {
    const codec = testCodec();
    const json = (value: unknown) => ({ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(JSON.stringify(value)).toString('base64') });
    const [sealed] = await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(`mail login ${SMTP_LOGIN.password}`)) }]);
    const encrypted = { metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([key, value]) => [key, Buffer.from(value!).toString('base64')])), data: Buffer.from(sealed!.data!).toString('base64') };
    const planted = new HistoryScanner(codec);
    await planted.scanEvent(
      {
        eventId: '1',
        workflowExecutionStartedEventAttributes: {
          input: { payloads: [json({ spec: { flavor: '1', note: `pw=${AUDITED_USER.password}` } }), json({ os_password: 'anything' })] },
          memo: { fields: { owner: json('gAAAAABtruncatedTokenButLongEnough') } },
          searchAttributes: { indexedFields: { LatentWorkerCloud: json(`https://keystone/v3#${APPLICATION_CREDENTIAL.secret}`) } },
        },
        userMetadata: { summary: encrypted },
      },
      'planted',
    );
    await planted.scanEvent({ eventId: '2', activityTaskFailedEventAttributes: { failure: { message: `refused ${WRONG_PASSWORD}`, source: 'TypeScriptSDK' } } }, 'planted');
    // Ordinary words that happen to be the simulator's default passwords are not findings inside
    // longer text. (As a whole value they are: histories hold no bare user names, which for the
    // simulator's admin and demo are the passwords too.)
    const ordinary = new HistoryScanner(codec);
    await ordinary.scanEvent({ eventId: '3', attributes: { input: { payloads: [json({ cloud: 'http://keystone/v3#admin', hint: 'set os_password (or OS_PASSWORD)', note: 'demo run' })] } } }, 'ordinary');
    expect(ordinary.findings).toEqual([]);
    expect(planted.findings.map(({ what }) => what).sort()).toEqual(
      [
        'a Keystone token',
        'a credential-named field "os_password" with a value',
        'password of simulator user "auditor"',
        'the SMTP password (SMTP_LOGIN)',
        'the application credential secret',
        'the wrong password of bad-input tests',
      ].sort(),
    );
    expect(planted.decrypted).toBe(1);
  });

  it('scanned the whole run: lifecycles of every outcome, encrypted ones, and every kind of credential', () => {
    // Run alone (e.g. `vitest run --project audit`), the dev server holds too little for this to mean anything.
    expect(audit.histories, 'the audit needs the histories of the whole test suite: run `npx vitest run`').toBeGreaterThanOrEqual(20);
    expect(audit.types.get(LIFECYCLE_WORKFLOW_TYPE) ?? 0).toBeGreaterThanOrEqual(20);
    // Every workflow type the worker registers, so a new one cannot go unaudited.
    expect(Object.keys(workflows).filter((type) => !audit.types.has(type)), 'workflow types without a history in this run').toEqual([]);
    expect([...audit.statuses.keys()]).toEqual(expect.arrayContaining(['COMPLETED', 'FAILED', 'CANCELLED']));
    expect(audit.scanner.failures).toBeGreaterThan(0);
    expect(audit.scanner.decrypted, 'test/codec.test.ts leaves encrypted histories').toBeGreaterThan(0);
    const clouds = [...audit.clouds];
    expect(clouds.some((cloud) => cloud.includes('#application-credential:')), 'a lifecycle that used an application credential').toBe(true);
    expect(clouds.some((cloud) => cloud.includes('/v3#')) && clouds.some((cloud) => cloud.includes('/v2.0#')), 'lifecycles on Keystone v3 and v2.0').toBe(true);
  });

  it('finds no password, token or application credential secret in any of them', () => {
    // Findings name the place and the kind of secret, never its value.
    expect(audit.scanner.findings.map(({ where, what }) => `${what} at ${where}`)).toEqual([]);
  });
});
