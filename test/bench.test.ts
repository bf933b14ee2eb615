import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baselineClient, baselineLifecycle } from '../bench/baseline.js';
import { countCalls } from '../bench/calls.js';
import { parseBenchOptions } from '../bench/options.js';
import { distribution } from '../bench/stats.js';
import { ServerTimeline, workerNameOf } from '../bench/timeline.js';
import { parseConfig } from '../src/config/load.js';
import { SEED_SIMPLEST_EXAMPLE } from '../src/config/seedExample.js';
import { novaCongestionPresets, startSimulator, type ServerEvent, type Simulator } from '../src/simulator/index.js';

// The benchmark's own measuring parts, against the real simulator on HTTP: its server timeline,
// the baseline script's REST sequence, and how calls are counted from what the simulator recorded.

const bootDelayMs = 400;
const deleteDelayMs = 150;
const timeline = new ServerTimeline();
const events: ServerEvent[] = [];
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    bootDelayMs,
    deleteDelayMs,
    onServerEvent: (event) => {
      events.push(event);
      timeline.record(event);
    },
  });
});

afterAll(async () => {
  await sim.close();
});

describe('benchmark measurements', () => {
  it('times a baseline lifecycle by the simulator clock, and counts its calls by service and kind', async () => {
    const config = parseConfig({ workers: [{ ...SEED_SIMPLEST_EXAMPLE, name: 'b00001', os_auth_url: sim.authUrlV3 }] }, 'bench test');
    const worker = config.workers.get('b00001')!;
    const client = baselineClient(worker);
    const from = Date.now();
    let wallMs: number;
    try {
      wallMs = await baselineLifecycle(client, worker, 'b00001-0123abcd-1', 100, 30_000);
    } finally {
      await client.close();
    }

    expect(events.map((e) => e.kind)).toEqual(['created', 'active', 'gone']);
    const [created, active, gone] = events as [ServerEvent, ServerEvent, ServerEvent];
    expect(active.at - created.at).toBeGreaterThanOrEqual(bootDelayMs - 5);
    expect(gone.at).toBeGreaterThan(active.at);
    expect(wallMs).toBeGreaterThanOrEqual(bootDelayMs + deleteDelayMs - 10);
    expect(workerNameOf(created.name)).toBe('b00001');
    expect(timeline.serversOf('b00001', from).map((s) => s.serverId)).toEqual([created.serverId]);

    // The boot window ends when the script saw ACTIVE: at most one poll interval after the simulator.
    const seen = sim.requests().filter((r) => r.method === 'GET' && r.path.endsWith(`/servers/${created.serverId}`) && r.at >= active.at)[0]!.at;
    const counts = countCalls(sim.requests(), [{ serverId: created.serverId, from: created.at, to: seen }]);
    expect(counts.keystoneTokenRequests).toBe(1);
    expect(counts.byService.keystone).toBe(1);
    expect(counts.byService.glance).toBe(1);
    expect(counts.byKind['nova POST /compute/v2.1/servers']).toBe(1);
    expect(counts.byKind['nova GET /compute/v2.1/servers/detail?name']).toBe(1);
    expect(counts.byKind['nova DELETE /compute/v2.1/servers/{id}']).toBe(1);
    // Polling every 100 ms over a 400 ms boot: about 5 reads, i.e. hundreds per booting-server-minute.
    expect(counts.novaStatusReadsDuringBoot).toBeGreaterThanOrEqual(4);
    expect(counts.novaStatusReadsPerBootingServerMinute).toBeGreaterThan(200);
  });

  it('counts one list read once for every server booting during it', () => {
    const list = { method: 'GET', path: '/compute/v2.1/servers/detail', query: { 'changes-since': 'x' }, headers: {}, body: undefined };
    const windows = Array.from({ length: 100 }, (_, i) => ({ serverId: `s${i}`, from: 0, to: 60_000 }));
    const counts = countCalls([{ ...list, at: 1_000 }, { ...list, at: 30_000 }, { ...list, at: 90_000 }], windows);
    expect(counts.novaStatusReadsDuringBoot).toBe(2);
    expect(counts.bootingServerMinutes).toBe(100);
    expect(counts.novaStatusReadsPerBootingServerMinute).toBeCloseTo(0.02);
  });

  it('reports nearest-rank percentiles', () => {
    const d = distribution(Array.from({ length: 100 }, (_, i) => i + 1))!;
    expect([d.p50, d.p95, d.p99, d.max, d.count]).toEqual([50, 95, 99, 100, 100]);
    expect(distribution([])).toBeUndefined();
  });
});

describe('benchmark options', () => {
  it('takes a Nova congestion preset with its boot, unless --boot-delay-ms says otherwise', () => {
    const preset = novaCongestionPresets['real-here']!;
    const withPreset = parseBenchOptions(['--nova-congestion', 'real-here']);
    expect(withPreset).toMatchObject({ novaCongestion: 'real-here', bootDelayMs: preset.bootDelayMs, scheduleDelayMs: preset.scheduleDelayMs });
    const ownBoot = parseBenchOptions(['--nova-congestion', 'real-here', '--boot-delay-ms', '60000']);
    expect(ownBoot).toMatchObject({ novaCongestion: 'real-here', bootDelayMs: 60_000 });
    expect(ownBoot.scheduleDelayMs).toBeUndefined();
    expect(parseBenchOptions(['--nova-congestion', '2x300'])).toMatchObject({ novaCongestion: '2x300', bootDelayMs: 60_000 });
    expect(parseBenchOptions([])).toMatchObject({ novaCongestion: 'off', bootDelayMs: 60_000 });
  });
});
