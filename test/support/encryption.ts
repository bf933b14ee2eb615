// Test-only keys. The audit (test/audit/secrets.test.ts) decrypts every history with them, so a
// test that encrypts must use these and no others.
export const TEST_KEYS = {
  current: { id: 'test-2', base64: '357o5UEDfAX661lRN2dqQEaXzxHRCNJNR8G3jF7mtd4=' },
  previous: { id: 'test-1', base64: 'cbXUMegK5mCxsnGo2LiuBNuNgrPjcIEPm6tzR0e2CHk=' },
  /** Never used to encrypt anything: the wrong key. */
  stranger: { id: 'test-2', base64: 'cXhT8s/dlsb6z6HxLcNddMIN9Pe9hklidW8q2plQ010=' },
} as const;

/** The ring after a rotation: test-2 encrypts, test-1 still decrypts. */
export const ROTATED_ENV = {
  LATENT_WORKER_ENCRYPTION_KEYS: `${TEST_KEYS.current.id}:${TEST_KEYS.current.base64},${TEST_KEYS.previous.id}:${TEST_KEYS.previous.base64}`,
};

/** The ring before the rotation. */
export const PREVIOUS_ENV = { LATENT_WORKER_ENCRYPTION_KEYS: `${TEST_KEYS.previous.id}:${TEST_KEYS.previous.base64}` };
