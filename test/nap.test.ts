// The sleep between two looks at the cloud (src/openstack/nap.ts), on real timers.
import { describe, expect, it } from 'vitest';
import { Nap } from '../src/openstack/nap.js';

async function timed(nap: Promise<void>): Promise<number> {
  const start = performance.now();
  await nap;
  return performance.now() - start;
}

describe('Nap', () => {
  it('sleeps until its end when nothing comes', async () => {
    const nap = new Nap();
    expect(await timed(nap.until(Date.now() + 120))).toBeGreaterThanOrEqual(110);
  });

  it('ends sooner when brought forward, and never later', async () => {
    const nap = new Nap();
    const sleeping = timed(nap.until(Date.now() + 2000));
    nap.bringForward(Date.now() + 50);
    nap.bringForward(Date.now() + 5000);
    const slept = await sleeping;
    expect(slept).toBeGreaterThanOrEqual(40);
    expect(slept).toBeLessThan(1000);
  });

  it('wakes at once, and leaves the next sleep untouched by a wake that came between', async () => {
    const nap = new Nap();
    const sleeping = timed(nap.until(Date.now() + 2000));
    nap.wake();
    expect(await sleeping).toBeLessThan(500);
    nap.wake();
    nap.bringForward(Date.now());
    expect(await timed(nap.until(Date.now() + 100))).toBeGreaterThanOrEqual(90);
  });

  it('rejects with the abort reason, before sleeping when already aborted', async () => {
    const nap = new Nap();
    const stop = new AbortController();
    const sleeping = nap.until(Date.now() + 2000, stop.signal);
    stop.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
    await expect(nap.until(Date.now() + 2000, stop.signal)).rejects.toThrow('stopped');
  });

  it('keeps the clock it is given for the end', async () => {
    let now = 1_000_000;
    const nap = new Nap(() => now);
    now += 10;
    expect(await timed(nap.until(1_000_000 + 110))).toBeGreaterThanOrEqual(90);
  });
});
