import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// A worker process's memory and CPU as the kernel accounts them, threads included (the Temporal
// core's Rust threads and the workflow worker thread live in the same process).

export interface ProcSample {
  /** Resident set now (VmRSS). */
  rssBytes: number;
  /** The highest resident set of the process's life so far (VmHWM). */
  hwmBytes: number;
  /** utime + stime of every thread. */
  cpuSeconds: number;
}

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Undefined once the process is gone. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), i.e. the 12th and 13th after the name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssBytes: kib('VmRSS'), hwmBytes: kib('VmHWM'), cpuSeconds: ticks / clockTicks };
  } catch {
    return undefined;
  }
}

/** Samples one process on an interval, keeping the peak resident set seen and the last reading. */
export class ProcSampler {
  private timer: NodeJS.Timeout | undefined;
  peakRssBytes = 0;
  last: ProcSample | undefined;

  constructor(
    readonly pid: number,
    intervalMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Starts the peak afresh (e.g. at the start of a batch); the kernel's VmHWM keeps the lifetime peak. */
  resetPeak(): void {
    this.peakRssBytes = 0;
    this.sample();
  }

  sample(): ProcSample | undefined {
    const sample = readProc(this.pid);
    if (sample) {
      this.last = sample;
      this.peakRssBytes = Math.max(this.peakRssBytes, sample.rssBytes);
    }
    return sample;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
