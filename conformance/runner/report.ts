/**
 * Summaries of a run: the JSON report and the text output.
 * @module
 */
import type { CaseResult } from "./suite.js";

/** Counts for one level (skipped cases are not part of `total`). */
export interface LevelCounts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

/** A failed case in the JSON report. */
export interface FailureEntry {
  readonly test_id: string;
  readonly file: string;
  readonly level: number;
  readonly messages: readonly string[];
}

/** The `--json` report. `total` counts executed cases (`passed + failed`). */
export interface RunReport {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly by_level: Readonly<Record<string, LevelCounts>>;
  readonly failures: readonly FailureEntry[];
  readonly skipped_tests: readonly Omit<FailureEntry, "messages">[];
  readonly duration_ms: number;
}

/** Builds the JSON report from case results. */
export function buildReport(results: readonly CaseResult[], durationMs: number): RunReport {
  const byLevel: Record<string, LevelCounts> = {};
  const failures: FailureEntry[] = [];
  const skipped: Omit<FailureEntry, "messages">[] = [];
  let passed = 0;
  let failed = 0;
  for (const { testCase, status, messages } of [...results].sort(
    (a, b) => a.testCase.level - b.testCase.level,
  )) {
    const key = String(testCase.level);
    const counts = (byLevel[key] ??= { total: 0, passed: 0, failed: 0, skipped: 0 });
    const entry = { test_id: testCase.testId, file: testCase.file, level: testCase.level };
    if (status === "skipped") {
      counts.skipped += 1;
      skipped.push(entry);
      continue;
    }
    counts.total += 1;
    if (status === "passed") {
      counts.passed += 1;
      passed += 1;
    } else {
      counts.failed += 1;
      failed += 1;
      failures.push({ ...entry, messages });
    }
  }
  return {
    total: passed + failed,
    passed,
    failed,
    skipped: skipped.length,
    by_level: byLevel,
    failures,
    skipped_tests: skipped,
    duration_ms: Math.round(durationMs),
  };
}

/** Text lines for one finished case: `FAIL <id> <file> — <first message>` plus indented further messages. */
export function formatCaseLines(result: CaseResult, verbose = false): string[] {
  const { testCase, status, messages, durationMs } = result;
  if (status === "failed") {
    const [first = "failed", ...rest] = messages;
    return [
      `FAIL ${testCase.testId} ${testCase.file} — ${first}`,
      ...rest.map((message) => `    ${message}`),
    ];
  }
  if (!verbose || status === "skipped") return [];
  return [`ok   ${testCase.testId} ${testCase.file} (${Math.round(durationMs)} ms)`];
}

/**
 * Closing text lines: skipped cases, one `level N: P/T passed` line per level, the skipped count (only
 * if any) and, always last, `N passed, N failed`.
 */
export function formatSummaryLines(report: RunReport): string[] {
  const lines = report.skipped_tests.map((entry) => `SKIP ${entry.test_id} ${entry.file}`);
  for (const [level, counts] of Object.entries(report.by_level).sort(([a], [b]) => Number(a) - Number(b))) {
    lines.push(`level ${level}: ${counts.passed}/${counts.total} passed`);
  }
  if (report.skipped > 0) lines.push(`${report.skipped} skipped`);
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines;
}
