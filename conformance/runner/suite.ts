/**
 * Running a selection of cases sequentially, resetting server state before each one.
 * @module
 */
import type { TestCase } from "./case.js";
import type { CaseOutcome, ExecuteOptions } from "./execute.js";
import { runTestCase } from "./execute.js";
import { buildHeaders, DEFAULT_REQUEST_TIMEOUT_MS, joinUrl, RequestError, sendRequest } from "./http.js";

/** Result status of one case. */
export type CaseStatus = "passed" | "failed" | "skipped";

/** Result of one case. */
export interface CaseResult {
  readonly testCase: TestCase;
  readonly status: CaseStatus;
  readonly messages: readonly string[];
  readonly durationMs: number;
}

/** Options of {@link runSuite}. */
export interface SuiteOptions extends ExecuteOptions {
  /** URL POSTed before every case; `undefined` disables the reset. */
  readonly resetUrl?: string | undefined;
  /** Test ids not to run (reported as skipped). */
  readonly skipIds?: ReadonlySet<string>;
  /** Called after each case, e.g. to print progress. */
  readonly onResult?: (result: CaseResult) => void;
  /** Runs one case; replaceable in tests. @defaultValue {@link runTestCase} */
  readonly runCase?: (testCase: TestCase, options: ExecuteOptions) => Promise<CaseOutcome>;
}

/** The reset hook failed, so further results would be meaningless. */
export class ResetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ResetError";
  }
}

/** The server could not be reached at all. */
export class UnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnreachableError";
  }
}

/** POSTs the reset URL; throws {@link ResetError} unless it answers 2xx. */
export async function resetServer(
  resetUrl: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<void> {
  let status: number;
  let text: string;
  try {
    ({ status, text } = await sendRequest(
      { method: "POST", url: resetUrl, headers: buildHeaders({}, { token, hasBody: false }) },
      timeoutMs,
    ));
  } catch (err) {
    if (err instanceof RequestError) throw new ResetError(`reset failed: ${err.message}`, { cause: err });
    throw err;
  }
  if (status < 200 || status > 299) {
    throw new ResetError(`reset POST ${resetUrl} answered ${status}: ${text.slice(0, 300)}`);
  }
}

/** Checks that something answers HTTP at the base URL (any status counts). */
export async function checkReachable(
  baseUrl: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<void> {
  try {
    await sendRequest(
      {
        method: "GET",
        url: joinUrl(baseUrl, "/ojs/v1/health"),
        headers: buildHeaders({}, { token, hasBody: false }),
      },
      timeoutMs,
    );
  } catch (err) {
    if (err instanceof RequestError)
      throw new UnreachableError(`server unreachable: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Runs the cases in the given order. Throws {@link ResetError} (after reporting the finished cases
 * through `onResult`) as soon as a reset fails.
 */
export async function runSuite(cases: readonly TestCase[], options: SuiteOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const runCase = options.runCase ?? runTestCase;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  for (const testCase of cases) {
    let result: CaseResult;
    if (options.skipIds?.has(testCase.testId) === true) {
      result = { testCase, status: "skipped", messages: [], durationMs: 0 };
    } else {
      if (options.resetUrl !== undefined) await resetServer(options.resetUrl, options.token, timeoutMs);
      const outcome = await runCase(testCase, options);
      result = {
        testCase,
        status: outcome.passed ? "passed" : "failed",
        messages: outcome.messages,
        durationMs: outcome.durationMs,
      };
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
