import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { GONE_FIRST_LOOK_MS, lookUntilGone } from '../src/activities/goneWait.js';
import type { Server } from '../src/openstack/index.js';

// The delete's wait for its server to go, on its own: what it reads, when it stops, and that it
// never returns while the server is there.

function serverIn(status: string): Server {
  return { id: 'srv', name: 'srv', status } as Server;
}

describe('lookUntilGone', () => {
  it('reads the server at a widening interval until Nova no longer has it, telling each status seen', async () => {
    const answers = [serverIn('ACTIVE'), serverIn('DELETED')];
    const readAt: number[] = [];
    const seen: string[] = [];
    const startedAt = Date.now();
    await lookUntilGone(
      'srv',
      async () => {
        readAt.push(Date.now() - startedAt);
        return answers.shift();
      },
      { signal: new AbortController().signal, until: Date.now() + 60_000, onStatus: (status) => seen.push(status) },
    );
    expect(seen).toEqual(['ACTIVE']);
    expect(readAt).toHaveLength(2);
    // The first look after a second, the next two seconds later.
    expect(readAt[0]).toBeGreaterThanOrEqual(GONE_FIRST_LOOK_MS - 5);
    expect(readAt[1]! - readAt[0]!).toBeGreaterThanOrEqual(2 * GONE_FIRST_LOOK_MS - 5);
  });

  it('takes a 404 (no server) as gone', async () => {
    let reads = 0;
    await lookUntilGone(
      'srv',
      async () => {
        reads += 1;
        return undefined;
      },
      { signal: new AbortController().signal, until: Date.now() + 60_000, onStatus: () => {} },
    );
    expect(reads).toBe(1);
  });

  it('ends with a retryable ServerNotGone, naming the status, when the server is still there at the bound', async () => {
    const error = await lookUntilGone('srv', async () => serverIn('ACTIVE'), { signal: new AbortController().signal, until: Date.now() + 1500, onStatus: () => {} }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'ServerNotGone', nonRetryable: false });
    expect((error as Error).message).toBe('server srv is still there (ACTIVE) after its delete; the delete is sent again');
  });

  it('stops when the activity is cancelled', async () => {
    const cancel = new AbortController();
    const waiting = lookUntilGone('srv', async () => serverIn('ACTIVE'), { signal: cancel.signal, until: Date.now() + 60_000, onStatus: () => {} });
    cancel.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow();
  });
});
