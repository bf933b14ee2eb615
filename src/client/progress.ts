import type { LifecycleStatus } from '../workflows/types.js';
import { describeStatus } from './format.js';

export interface ProgressLine {
  /** Shows the lifecycle's latest status. */
  update(status: LifecycleStatus): void;
  /** Leaves the last status on screen, on a line of its own. */
  end(): void;
}

/**
 * How `substantiate --wait` and `watch` show a lifecycle: on a terminal, one line rewritten in
 * place with the time elapsed, ticking every second; into a pipe or file, a line per phase
 * change, so logs stay readable.
 */
export function progressLine(stream: NodeJS.WriteStream = process.stdout): ProgressLine {
  const started = Date.now();
  let latest: LifecycleStatus | undefined;
  const line = () => `${describeStatus(latest!)} (${Math.round((Date.now() - started) / 1000)} s)`;
  if (!stream.isTTY) {
    return {
      update(status) {
        latest = status;
        stream.write(`${line()}\n`);
      },
      end() {},
    };
  }
  const draw = () => latest && stream.write(`\r\x1b[2K${line()}`);
  const ticker = setInterval(draw, 1000);
  ticker.unref();
  return {
    update(status) {
      latest = status;
      draw();
    },
    end() {
      clearInterval(ticker);
      if (latest) stream.write('\n');
    },
  };
}
