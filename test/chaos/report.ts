import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Outcome } from './trial.js';

export interface TrialResult {
  scenario: string;
  run: number;
  workerName: string;
  runId: string;
  outcome: Outcome;
  /** Servers the trial's cloud ever had. */
  serversCreated: number;
  createRequests: number;
  /** Servers still there at the end (after the reaper, for terminated lifecycles). */
  serversLeft: number;
  /** Servers the reaper deleted. */
  reaped: number;
  /** Servers a reaper run deleted while their lifecycle still held them: must be 0. */
  liveReaped: number;
  duplicates: number;
  workerProcesses: number;
  violations: string[];
  notes: string[];
  seconds: number;
}

export interface ScenarioRow {
  scenario: string;
  runs: number;
  serversCreated: number;
  serversLeft: number;
  duplicateServers: number;
  reaped: number;
  liveReaped: number;
  outcomes: Record<string, number>;
  seconds: number;
  failures: string[];
}

export function summarize(scenarioNames: string[], results: TrialResult[]): ScenarioRow[] {
  return scenarioNames.map((scenario) => {
    const mine = results.filter((r) => r.scenario === scenario).sort((a, b) => a.run - b.run);
    const outcomes: Record<string, number> = {};
    for (const r of mine) outcomes[r.outcome.kind] = (outcomes[r.outcome.kind] ?? 0) + 1;
    return {
      scenario,
      runs: mine.length,
      serversCreated: sum(mine.map((r) => r.serversCreated)),
      serversLeft: sum(mine.map((r) => r.serversLeft)),
      duplicateServers: sum(mine.map((r) => r.duplicates)),
      reaped: sum(mine.map((r) => r.reaped)),
      liveReaped: sum(mine.map((r) => r.liveReaped)),
      outcomes,
      seconds: Math.max(0, ...mine.map((r) => r.seconds)),
      failures: mine.flatMap((r) => r.violations.map((v) => `run ${r.run}: ${v}`)),
    };
  });
}

const COLUMNS = ['scenario', 'runs', 'servers created', 'servers left', 'duplicate servers', 'reaped', 'live reaped', 'outcomes', 'result'] as const;

function cells(row: ScenarioRow): string[] {
  const outcomes = Object.entries(row.outcomes).map(([kind, n]) => `${kind}×${n}`).join(', ');
  return [row.scenario, String(row.runs), String(row.serversCreated), String(row.serversLeft), String(row.duplicateServers), String(row.reaped), String(row.liveReaped), outcomes, row.failures.length === 0 ? 'ok' : 'FAILED'];
}

/** A fixed-width table for the terminal. */
export function textTable(rows: ScenarioRow[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...body.map((r) => r[i]!.length)));
  const line = (values: readonly string[]) => values.map((v, i) => (i === 0 || i === 7 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same table as Markdown, for docs/chaos.md. */
export function markdownTable(rows: ScenarioRow[]): string {
  return [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${cells(row).join(' | ')} |`)].join('\n');
}

export function writeReport(file: string, report: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
