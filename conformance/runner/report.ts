/**
 * Summaries of a run: the JSON report and the text output.
 * @module
 */
import type { CaseResult } from "./suite.js";

/** Counts for one level or extension (skipped cases are not part of `total`). */
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
  /** `null` for an extension case. */
  readonly level: number | null;
  /** Only for an extension case. */
  readonly extension?: string;
  readonly messages: readonly string[];
}

/** The `--json` report. `total` counts executed cases (`passed + failed`). */
export interface RunReport {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly by_level: Readonly<Record<string, LevelCounts>>;
  /** Only present when extension cases ran; keyed by extension name. */
  readonly by_extension?: Readonly<Record<string, LevelCounts>>;
  readonly failures: readonly FailureEntry[];
  readonly skipped_tests: readonly Omit<FailureEntry, "messages">[];
  readonly duration_ms: number;
}

/** Builds the JSON report from case results. */
export function buildReport(results: readonly CaseResult[], durationMs: number): RunReport {
  const byLevel: Record<string, LevelCounts> = {};
  const byExtension: Record<string, LevelCounts> = {};
  const failures: FailureEntry[] = [];
  const skipped: Omit<FailureEntry, "messages">[] = [];
  let passed = 0;
  let failed = 0;
  // Core levels first (in level order), then extensions (by name).
  const rank = (tc: CaseResult["testCase"]): string =>
    tc.level !== null ? `0${String(tc.level).padStart(6, "0")}` : `1${tc.extension ?? ""}`;
  for (const { testCase, status, messages } of [...results].sort((a, b) =>
    rank(a.testCase) < rank(b.testCase) ? -1 : rank(a.testCase) > rank(b.testCase) ? 1 : 0,
  )) {
    const { level, extension } = testCase;
    const counts =
      extension !== null
        ? (byExtension[extension] ??= { total: 0, passed: 0, failed: 0, skipped: 0 })
        : (byLevel[String(level)] ??= { total: 0, passed: 0, failed: 0, skipped: 0 });
    const entry = {
      test_id: testCase.testId,
      file: testCase.file,
      level,
      ...(extension !== null && { extension }),
    };
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
    ...(Object.keys(byExtension).length > 0 && { by_extension: byExtension }),
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
 * Closing text lines: skipped cases, one `level N: P/T passed` line per level, one
 * `ext NAME: P/T passed` line per extension, the skipped count (only if any) and, always last,
 * `N passed, N failed`.
 */
export function formatSummaryLines(report: RunReport): string[] {
  const lines = report.skipped_tests.map((entry) => `SKIP ${entry.test_id} ${entry.file}`);
  for (const [level, counts] of Object.entries(report.by_level).sort(([a], [b]) => Number(a) - Number(b))) {
    lines.push(`level ${level}: ${counts.passed}/${counts.total} passed`);
  }
  for (const [extension, counts] of Object.entries(report.by_extension ?? {})) {
    lines.push(`ext ${extension}: ${counts.passed}/${counts.total} passed`);
  }
  if (report.skipped > 0) lines.push(`${report.skipped} skipped`);
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines;
}
