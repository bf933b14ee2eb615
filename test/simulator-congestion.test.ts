import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNovaCongestion, SimulatorControl, startSimulator, type NovaCongestion, type ServerEvent, type Simulator } from '../src/simulator/index.js';

// Nova congestion (src/simulator/congestion.ts) over real HTTP: servers created together go
// ACTIVE one build slot after another, as the model says; without it every one boots in the boot
// delay. Timers can only fire late, never early, so lower bounds are exact and upper bounds carry
// a tolerance for a loaded machine.

const bootDelayMs = 1000;
const scheduleDelayMs = 100;
const model: NovaCongestion = { workers: 2, buildMs: 400 };
const lateToleranceMs = 350;

/** The model's promise for the i-th server (0-based, in creation order) of a burst created together: ms from its creation to ACTIVE. */
const expectedBootMs = (i: number, m: NovaCongestion | null): number => bootDelayMs + (m ? Math.floor(i / m.workers) * m.buildMs : 0);

let sim: Simulator;
let control: SimulatorControl;
let token: string;
const events: ServerEvent[] = [];

beforeAll(async () => {
  sim = await startSimulator({ bootDelayMs, scheduleDelayMs, deleteDelayMs: 50, novaCongestion: model, onServerEvent: (e) => events.push(e) });
  control = new SimulatorControl(sim.url);
  const res = await fetch(`${sim.authUrlV3}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'demo' } } },
        scope: { project: { name: 'demo', domain: { name: 'Default' } } },
      },
    }),
  });
  expect(res.status).toBe(201);
  token = res.headers.get('x-subject-token') ?? '';
});

afterAll(async () => {
  await sim.close();
});

const headers = () => ({ 'x-auth-token': token, 'content-type': 'application/json', 'openstack-api-version': 'compute latest' });

async function createServer(name: string): Promise<string> {
  const res = await fetch(`${sim.url}/compute/v2.1/servers`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ server: { name, imageRef: '31c4ec89-adc0-4dde-928d-b5f5552e4901', flavorRef: '1', networks: 'none' } }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { server: { id: string } }).server.id;
}

interface Seen {
  status: string;
  taskState: string | null;
}

async function listByPrefix(prefix: string): Promise<Map<string, Seen>> {
  const res = await fetch(`${sim.url}/compute/v2.1/servers/detail?name=${encodeURIComponent(`^${prefix}`)}`, { headers: headers() });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { servers: { name: string; status: string; 'OS-EXT-STS:task_state': string | null }[] };
  return new Map(body.servers.map((s) => [s.name, { status: s.status, taskState: s['OS-EXT-STS:task_state'] }]));
}

/**
 * Creates `count` servers at once over HTTP and reads them every 20 ms until all are ACTIVE.
 * Returns, in creation order, each server's boot by the simulator's clock (created → active
 * events) and by the HTTP client (its POST sent → first list showing ACTIVE), and every snapshot read.
 */
async function burst(
  label: string,
  count: number,
): Promise<{ bootMs: number[]; noticedMs: number[]; snapshots: Map<string, Seen>[]; createdNames: string[]; spreadMs: number }> {
  // Unique, so that a retried test does not count its first try's servers.
  const prefix = `${label}-${Math.random().toString(36).slice(2, 8)}-`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const sentAt = Date.now();
  await Promise.all(names.map((name) => createServer(name)));
  const noticed = new Map<string, number>();
  const snapshots: Map<string, Seen>[] = [];
  const deadline = Date.now() + 20_000;
  while (noticed.size < count && Date.now() < deadline) {
    const seen = await listByPrefix(prefix);
    snapshots.push(seen);
    for (const [name, s] of seen) if (s.status === 'ACTIVE' && !noticed.has(name)) noticed.set(name, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(noticed.size, `servers ACTIVE within 20 s: ${[...noticed.keys()].join(', ')}`).toBe(count);
  const mine = events.filter((e) => e.name.startsWith(prefix));
  const created = mine.filter((e) => e.kind === 'created').sort((a, b) => a.at - b.at);
  expect(created).toHaveLength(count);
  const activeAt = (serverId: string) => mine.find((e) => e.kind === 'active' && e.serverId === serverId)?.at ?? NaN;
  const firstCreated = created[0]!.at;
  return {
    // From the burst's first creation: every server of it was created within a few milliseconds, and queued from then.
    bootMs: created.map((c) => activeAt(c.serverId) - firstCreated),
    noticedMs: created.map((c) => noticed.get(c.name)! - sentAt),
    snapshots,
    createdNames: created.map((c) => c.name),
    // How far apart the POSTs sent together reached the simulator: a loaded machine spreads them,
    // and a server created that much later goes ACTIVE that much later.
    spreadMs: created.at(-1)!.at - firstCreated,
  };
}

function expectModel({ bootMs, spreadMs }: { bootMs: number[]; spreadMs: number }, m: NovaCongestion | null): void {
  bootMs.forEach((ms, i) => {
    const expected = expectedBootMs(i, m);
    const seen = `server ${i}: ${ms} ms against the model's ${expected} ms (${bootMs.join(', ')}; creations spread over ${spreadMs} ms)`;
    expect(ms, seen).toBeGreaterThanOrEqual(expected - 5);
    expect(ms, seen).toBeLessThanOrEqual(expected + spreadMs + lateToleranceMs);
  });
}

describe('Nova congestion', () => {
  it('boots a lone server in the boot delay, as without congestion', async () => {
    const lone = await burst('lone', 1);
    const { noticedMs } = lone;
    expectModel(lone, model);
    expect(noticedMs[0]).toBeGreaterThanOrEqual(bootDelayMs);
  });

  it('makes six servers created at once go ACTIVE two build slots at a time, 400 ms apart', async () => {
    const six = await burst('six', 6);
    const { bootMs, noticedMs, snapshots, createdNames } = six;
    expectModel(six, model);
    // The last pair took two build slots' time longer than the first: measurably congested.
    expect(bootMs[5]! - bootMs[0]!).toBeGreaterThanOrEqual(2 * model.buildMs - 5);
    // Over HTTP too: none noticed ACTIVE before the model allows; the last pair waited for a slot
    // (still scheduling) while the first spawned, and was still in BUILD once the first was ACTIVE.
    noticedMs.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(expectedBootMs(i, model)));
    const [first, last] = [createdNames[0]!, createdNames[5]!];
    expect(snapshots.some((s) => s.get(first)?.taskState === 'spawning' && s.get(last)?.taskState === 'scheduling')).toBe(true);
    expect(snapshots.some((s) => s.get(first)?.status === 'ACTIVE' && s.get(last)?.status === 'BUILD')).toBe(true);
  });

  it('changes nothing when off: six servers created at once all boot in the boot delay', async () => {
    await control.setNovaCongestion(null);
    try {
      expect(await control.novaCongestion()).toEqual({ congestion: null, queuedBuilds: 0 });
      expectModel(await burst('free', 6), null);
    } finally {
      await control.setNovaCongestion(model);
    }
  });

  it('takes a new model over the control endpoint, and lets waiting builds go when cleared', async () => {
    await control.setNovaCongestion({ workers: 1, buildMs: 800 });
    try {
      const prefix = `clear-${Math.random().toString(36).slice(2, 8)}-`;
      const names = [0, 1, 2].map((i) => `${prefix}${i}`);
      await Promise.all(names.map((name) => createServer(name)));
      // After scheduling, one build holds the only slot and two wait for it.
      const deadline = Date.now() + 5000;
      let queued = 0;
      while (queued < 2 && Date.now() < deadline) {
        queued = (await control.novaCongestion()).queuedBuilds;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(queued).toBe(2);
      const clearedAt = Date.now();
      await control.setNovaCongestion(null);
      expect((await control.novaCongestion()).queuedBuilds).toBe(0);
      // The two that waited now boot the rest of the boot delay from the moment they were let go, not 800 and 1600 ms later.
      const deadlineActive = Date.now() + 5000;
      let seen = await listByPrefix(prefix);
      while ([...seen.values()].some((s) => s.status !== 'ACTIVE') && Date.now() < deadlineActive) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = await listByPrefix(prefix);
      }
      expect([...seen.values()].map((s) => s.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
      const last = Math.max(...events.filter((e) => e.kind === 'active' && e.name.startsWith(prefix)).map((e) => e.at));
      expect(last - clearedAt).toBeLessThanOrEqual(bootDelayMs - scheduleDelayMs + lateToleranceMs);
    } finally {
      await control.setNovaCongestion(model);
    }
  });

  it('refuses a model whose build outlasts the spawn, or that is not a model, and keeps the one in force', async () => {
    await expect(control.setNovaCongestion({ workers: 1, buildMs: 901 })).rejects.toThrow(
      'simulator control PUT /nova/congestion: 400 a build may hold its slot for at most the spawn, boot delay 1000 ms minus scheduling 100 ms = 900 ms; got buildMs 901',
    );
    await expect(control.setNovaCongestion({ workers: 0, buildMs: 100 })).rejects.toThrow(/400 invalid Nova congestion: .*workers/);
    expect(() => sim.congestion.set({ workers: 1, buildMs: 901 })).toThrow(RangeError);
    await expect(startSimulator({ bootDelayMs: 500, scheduleDelayMs: 100, novaCongestion: { workers: 1, buildMs: 401 } })).rejects.toThrow(
      'a build may hold its slot for at most the spawn, boot delay 500 ms minus scheduling 100 ms = 400 ms; got buildMs 401',
    );
    expect(sim.congestion.get()).toEqual(model);
    expect((await control.novaCongestion()).congestion).toEqual(model);
  });

  it('reads the bench and simulator flag: off, a preset with its boot, or <workers>x<build ms>', () => {
    expect(parseNovaCongestion('off')).toEqual({ congestion: null });
    expect(parseNovaCongestion('3x250')).toEqual({ congestion: { workers: 3, buildMs: 250 } });
    const realHere = parseNovaCongestion('real-here');
    expect(realHere.congestion).toEqual(realHere.preset?.congestion);
    expect(realHere.preset!.congestion.buildMs).toBeLessThanOrEqual(realHere.preset!.bootDelayMs - realHere.preset!.scheduleDelayMs);
    expect(() => parseNovaCongestion('0x100')).toThrow(RangeError);
    expect(() => parseNovaCongestion('fast')).toThrow(/must be off, real-here or <workers>x<build ms>/);
  });
});
