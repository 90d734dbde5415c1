/**
 * The live per-host table of `jetjob job run`: on a terminal it redraws in place (one row per host
 * with state and duration, plus a summary line); elsewhere it prints one plain line per host as it
 * finishes, so logs and pipes get readable output. Large fleets that do not fit the screen show a
 * progress line instead, and the full table at the end.
 */
import type { FleetJob, HostResult } from "../client/fleet.js";
import { cell, color, truncate } from "./output.js";

const stateStyle: Record<string, (s: string) => string> = {
  completed: color.green,
  failed: color.red,
  unreachable: color.red,
  skipped: color.yellow,
  timeout: color.yellow,
  cancelled: color.red,
  running: color.cyan,
  acknowledged: color.cyan,
  pending: color.dim,
};

export function stateCell(state: string): string {
  return (stateStyle[state] ?? ((s: string) => s))(state);
}

export function durationCell(ms: number | undefined): string {
  if (ms === undefined) return "-";
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

/** A one-line summary of a host's outcome: the error, or the result shortened. */
export function outcomeCell(r: HostResult, width = 60): string {
  if (r.error) return truncate(`${r.error.code}: ${r.error.message}`, width);
  if (r.result !== undefined) return truncate(cell(r.result), width);
  // Still running: what it said last.
  if (r.last_output !== undefined) return color.dim(truncate(r.last_output, width));
  return r.progress === undefined ? "" : color.dim(truncate(`progress ${cell(r.progress)}`, width));
}

export function summaryLine(counts: FleetJob["counts"], status?: string): string {
  const parts = [`${counts.completed}/${counts.total} completed`];
  if (counts.failed) parts.push(color.red(`${counts.failed} failed`));
  if (counts.unreachable) parts.push(color.red(`${counts.unreachable} unreachable`));
  if (counts.skipped) parts.push(color.yellow(`${counts.skipped} skipped`));
  if (counts.timeout) parts.push(color.yellow(`${counts.timeout} timed out`));
  if (counts.cancelled) parts.push(`${counts.cancelled} cancelled`);
  const waiting = counts.pending + counts.running;
  if (waiting) parts.push(color.cyan(`${waiting} waiting`));
  return (status ? `${stateCell(status)}  ` : "") + parts.join(", ");
}

export function hostRows(rows: HostResult[]): string[][] {
  return rows.map((r) => [r.host, stateCell(r.state), durationCell(r.duration_ms), outcomeCell(r)]);
}

export interface LiveTable {
  update(rows: HostResult[], counts: FleetJob["counts"]): void;
  /** Stops redrawing; leaves the last drawing on screen. */
  end(): void;
}

/** Redraws the table in place on `out` (a TTY). */
export function createLiveTable(out: NodeJS.WriteStream, render: (rows: HostResult[]) => string): LiveTable {
  let drawn = 0;
  let last = "";
  return {
    update(rows, counts) {
      const fits = rows.length + 3 <= (out.rows || 24);
      const text = (fits ? render(rows) : "") + summaryLine(counts) + "\n";
      if (text === last) return;
      last = text;
      if (drawn > 0) out.write(`\u001b[${drawn}F\u001b[0J`); // up to the first line, clear below
      out.write(text);
      drawn = text.split("\n").length - 1;
    },
    end() {
      drawn = 0;
    },
  };
}
