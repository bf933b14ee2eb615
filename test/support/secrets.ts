import { defaultUsers, type SimUser } from '../../src/simulator/index.js';
import { SEED_WORKER } from './lifecycleRig.js';

// Every credential the test suite configures for a lifecycle. test/audit/secrets.test.ts fails if
// any of them shows up in a workflow history; tests that run lifecycles with other credentials
// must add theirs here.

/** The SMTP login of test/missing-notification.test.ts. */
export const SMTP_LOGIN = { user: 'mailer', password: 'smtp-secret-42' };

/** The Buildbot worker's login to the master in test/buildbot.test.ts: the master's secret, never the lifecycle's. */
export const BUILDBOT_WORKER_PASSWORD = 'bb-worker-pass-3c9e71d0a4';

/** A wrong password that bad-input tests try; Keystone must refuse it without echoing it anywhere. */
export const WRONG_PASSWORD = 'wrong-pass-7f3e9c1a';

/** A Keystone v3 user with an application credential, for lifecycles that use either. */
export const AUDITED_USER = {
  name: 'auditor',
  password: 'auditor-pass-5d2b8e47',
  project: 'audit',
  applicationCredentials: [{ id: 'a7c1e9d3b5f24e6a8c0d2f4b6a8e0c13', name: 'latent-ci', secret: 'appcred-secret-91c4f0e2b7a6' }],
} as const satisfies SimUser;

export const APPLICATION_CREDENTIAL = AUDITED_USER.applicationCredentials[0];

/**
 * How a secret may be told apart from ordinary text. The simulator's default passwords are the
 * words `admin`, `demo` and `password`, which histories use as names and keys: those count only
 * as a whole string value. A word-like secret counts when it stands alone; a random one anywhere.
 */
export type Match = 'whole-value' | 'word' | 'anywhere';

export interface AuditedSecret {
  /** Names the secret in a finding; the value itself is never printed. */
  label: string;
  value: string;
  match: Match;
}

export const AUDITED_SECRETS: readonly AuditedSecret[] = [
  ...defaultUsers.map((user) => ({ label: `password of simulator user "${user.name}"`, value: user.password, match: 'whole-value' as const })),
  { label: "the seed worker's CI password (SEED_WORKER.password)", value: SEED_WORKER.password, match: 'word' },
  { label: 'the SMTP password (SMTP_LOGIN)', value: SMTP_LOGIN.password, match: 'anywhere' },
  { label: 'the wrong password of bad-input tests', value: WRONG_PASSWORD, match: 'anywhere' },
  { label: "the Buildbot worker's password (BUILDBOT_WORKER_PASSWORD)", value: BUILDBOT_WORKER_PASSWORD, match: 'anywhere' },
  { label: `password of simulator user "${AUDITED_USER.name}"`, value: AUDITED_USER.password, match: 'anywhere' },
  { label: 'the application credential secret', value: APPLICATION_CREDENTIAL.secret, match: 'anywhere' },
];

/**
 * A Keystone token as the simulator issues them (src/simulator/state.ts: "gAAAAAB" and 132 random
 * bytes in base64url), which is also how real fernet tokens start. 20 characters are enough to
 * catch a truncated one and too many for chance.
 */
export const TOKEN_PATTERN = /gAAAAAB[A-Za-z0-9_-]{20,}/;
