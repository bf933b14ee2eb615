/** Work done now and again in the background of a worker process. */
export interface Repeating {
  /** Resolves once no round is in flight any more. */
  stop(): Promise<void>;
}

/**
 * Runs `round` at once, then again `delayMs()` after each round ends, until stopped. Rounds never
 * overlap, so a slow one delays the next instead of piling up; a round handles its own failures.
 */
export function repeat(round: () => Promise<unknown>, delayMs: () => number): Repeating {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const next = (): void => {
    running = round().then(() => {
      if (!stopped) timer = setTimeout(next, delayMs());
    });
  };
  next();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
