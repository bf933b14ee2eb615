import { inspect } from 'node:util';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import type { Logger } from '@temporalio/common';
import type { LogFormat, LogLevel } from '../config/workerOps.js';

/**
 * Keys whose values are never written, whatever put them in a log call's metadata. The SDK adds
 * `taskToken` to every activity line: with it anyone could complete that activity.
 */
const SECRET_KEY = /password|secret|token|authorization|credential/i;
export const REDACTED = '[redacted]';

// The SDK's workflow lines say `runId`, its activity lines `workflowRunId`: one name in ours.
const RENAMED: Record<string, string> = { workflowRunId: 'runId', sdkComponent: 'component' };

export interface LogLineOptions {
  format: LogFormat;
  level: LogLevel;
  /** Where each line goes; stdout by default. */
  write?: (line: string) => void;
}

/**
 * The worker process's one logger: the SDK's (workflow, activity, worker and forwarded Core
 * lines) and our own. `json` writes one object per line with `time`, `level`, `message` and the
 * line's context (`workflowId`, `runId`, `activityType`, `serverId`, ... where known); `text`
 * writes the same as `time LEVEL message key=value ...` for a person at a terminal.
 */
export function createLogger({ format, level, write = (line) => process.stdout.write(line) }: LogLineOptions): Logger {
  const render = format === 'json' ? jsonLine : textLine;
  return new DefaultLogger(level, (entry) => write(render(entry) + '\n'));
}

export function jsonLine({ level, message, timestampNanos, meta }: LogEntry): string {
  return JSON.stringify({ time: isoTime(timestampNanos), level: level.toLowerCase(), message, ...fieldsOf(meta) }, jsonSafe());
}

function textLine({ level, message, timestampNanos, meta }: LogEntry): string {
  const fields = Object.entries(fieldsOf(meta)).map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value, jsonSafe())}`);
  return [isoTime(timestampNanos), level.padEnd(5), message, ...fields].join(' ');
}

function fieldsOf(meta: LogEntry['meta']): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (value === undefined) continue;
    fields[RENAMED[key] ?? key] = SECRET_KEY.test(key) ? REDACTED : value;
  }
  return fields;
}

function isoTime(nanos: bigint): string {
  return new Date(Number(nanos / 1_000_000n)).toISOString();
}

/** Errors as their name, message and type; bigints as strings; secret keys redacted at any depth; cycles cut. */
function jsonSafe(): (this: unknown, key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return function (key, value) {
    if (key !== '' && SECRET_KEY.test(key)) return REDACTED;
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return errorFields(value);
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    if (typeof value === 'function' || typeof value === 'symbol') return inspect(value);
    return value;
  };
}

function errorFields(error: Error): Record<string, unknown> {
  const type = 'type' in error && typeof error.type === 'string' ? error.type : undefined;
  const cause = error.cause instanceof Error ? errorFields(error.cause) : undefined;
  return { name: error.name, message: error.message, ...(type ? { type } : {}), ...(cause ? { cause } : {}) };
}
