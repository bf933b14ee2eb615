import { request } from 'undici';
import { startSimulator, type Simulator } from '../../../src/simulator/index.js';

// The cloud the conformance tier runs against: CONFORMANCE_TARGET=simulator (the default) starts
// an in-process simulator shaped like the real test cloud (Keystone without v2.0, as Zed);
// CONFORMANCE_TARGET=openstack uses the Keystone/Glance/Nova that ../shared/tools/openstack-up.sh
// runs on 127.0.0.1. Both are described by the same Target, so every scenario runs unchanged.

export type TargetName = 'simulator' | 'openstack';

export interface Account {
  username: string;
  password: string;
  project: string;
}

export interface Target {
  name: TargetName;
  /** Keystone's version root (the unversioned auth URL). */
  identityRoot: string;
  /** The v3 auth URL, as a clouds.yaml would name it. */
  authUrl: string;
  region: string;
  admin: Account;
  demo: Account;
  /** Names of the flavor and image every scenario boots. */
  flavor: string;
  image: string;
  /** Present on the simulator target only: its fault and quota controls. */
  simulator?: Simulator;
  close(): Promise<void>;
}

const accounts = {
  admin: { username: 'admin', password: 'admin', project: 'admin' },
  demo: { username: 'demo', password: 'demo', project: 'demo' },
};

export const bringUpHint =
  'Bring the real cloud up with `bash ../shared/tools/openstack-up.sh` (about 2-4 minutes on a fresh machine; ' +
  'a re-run on a running cloud takes ~30 s), or run the whole tier with `bash scripts/openstack-conformance.sh`.';

export function targetName(): TargetName {
  const name = process.env.CONFORMANCE_TARGET ?? 'simulator';
  if (name !== 'simulator' && name !== 'openstack') {
    throw new Error(`CONFORMANCE_TARGET must be 'simulator' or 'openstack', not '${name}'`);
  }
  return name;
}

/** Fails (never skips) when the real cloud does not answer, saying how to bring it up. */
async function reachable(identityRoot: string): Promise<void> {
  try {
    const res = await request(identityRoot, { headersTimeout: 5_000, bodyTimeout: 5_000, signal: AbortSignal.timeout(5_000) });
    await res.body.dump();
    if (res.statusCode !== 300 && res.statusCode !== 200) throw new Error(`answered HTTP ${res.statusCode}`);
  } catch (error) {
    throw new Error(
      `CONFORMANCE_TARGET=openstack but Keystone at ${identityRoot} is not usable (${error instanceof Error ? error.message : String(error)}). ${bringUpHint}`,
    );
  }
}

export async function openTarget(): Promise<Target> {
  const common = { region: 'RegionOne', flavor: 'tiny', image: 'tiny', ...accounts };
  if (targetName() === 'openstack') {
    const identityRoot = (process.env.CONFORMANCE_IDENTITY_URL ?? 'http://127.0.0.1:5000').replace(/\/+$/, '');
    await reachable(identityRoot);
    return { name: 'openstack', identityRoot, authUrl: `${identityRoot}/v3`, ...common, close: async () => {} };
  }
  // Delays in the range the real fake-driver cloud shows (ACTIVE in ~1 s, gone ~1 s after DELETE).
  const sim = await startSimulator({ identityV2: false, bootDelayMs: 400, deleteDelayMs: 300 });
  return {
    name: 'simulator',
    identityRoot: `${sim.url}/identity`,
    authUrl: sim.authUrlV3,
    ...common,
    simulator: sim,
    close: () => sim.close(),
  };
}
