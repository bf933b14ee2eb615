import { describe, expect, it } from 'vitest';
import { FOLLOW_STALE_MS, GoneNotices } from '../src/activities/goneNotices.js';

// The board between the fleet's status watcher and the deletes of its process: a delete is told
// its server is gone by a list, and is let go to read the server itself as soon as no watch here
// can tell it.

const withAMinute = () => ({ signal: new AbortController().signal, until: Date.now() + 60_000 });

describe('GoneNotices', () => {
  it('tells a waiting delete when a list shows its server DELETED, and no sooner', async () => {
    const notices = new GoneNotices();
    notices.watchStarted();
    let told = false;
    const waiting = notices.waitGone('srv', withAMinute()).then((gone) => (told = gone));
    notices.listed(['other']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(told).toBe(false);
    const startedAt = Date.now();
    notices.listed(['srv']);
    expect(await waiting).toBe(true);
    // Woken by the list itself, not by the once-a-second check.
    expect(Date.now() - startedAt).toBeLessThan(500);
  });

  it('remembers a server seen gone before its delete started waiting', async () => {
    const notices = new GoneNotices();
    notices.watchStarted();
    notices.listed(['srv']);
    expect(await notices.waitGone('srv', withAMinute())).toBe(true);
  });

  it('tells nothing when no watch runs in the process: the delete reads its server', async () => {
    const notices = new GoneNotices();
    notices.listed(['srv-listed-before-any-watch']);
    expect(notices.following).toBe(false);
    expect(await notices.waitGone('srv', withAMinute())).toBe(false);
  });

  it('lets a waiting delete go at once when the watch ends', async () => {
    const notices = new GoneNotices();
    const ended = notices.watchStarted();
    const waiting = notices.waitGone('srv', withAMinute());
    const startedAt = Date.now();
    ended();
    ended();
    expect(await waiting).toBe(false);
    expect(Date.now() - startedAt).toBeLessThan(500);
    expect(notices.following).toBe(false);
  });

  it('stops following a watch that has not listed for FOLLOW_STALE_MS', async () => {
    let now = 1_000_000;
    const notices = new GoneNotices(() => now);
    notices.watchStarted();
    expect(notices.following).toBe(true);
    now += FOLLOW_STALE_MS + 1;
    expect(notices.following).toBe(false);
    expect(await notices.waitGone('srv', { signal: new AbortController().signal, until: now + 60_000 })).toBe(false);
    notices.listed([]);
    expect(notices.following).toBe(true);
  });

  it('gives up at `until`, and rejects when the activity is cancelled', async () => {
    const notices = new GoneNotices();
    notices.watchStarted();
    const startedAt = Date.now();
    expect(await notices.waitGone('srv', { signal: new AbortController().signal, until: Date.now() + 300 })).toBe(false);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
    const cancel = new AbortController();
    const waiting = notices.waitGone('srv', { signal: cancel.signal, until: Date.now() + 60_000 });
    cancel.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });
});
