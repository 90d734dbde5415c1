/**
 * Running the steps of one test case: HTTP requests, `delay_ms`, `WAIT`, `ASSERT` and
 * `parallel_with` groups. A phase stops at the first step (or parallel group) with failures, because
 * later steps depend on its outcome.
 * @module
 */
import { checkResponse, CROSS_STEP_KEYS } from "./assertions.js";
import type { Step, TestCase } from "./case.js";
import { checkCrossStep } from "./cross-step.js";
import type { ResponseRecord } from "./http.js";
import type { Json } from "./json.js";
import { isJsonObject } from "./json.js";
import { resolvePath } from "./jsonpath.js";
import { buildHeaders, DEFAULT_REQUEST_TIMEOUT_MS, joinUrl, RequestError, sendRequest } from "./http.js";
import { renderJson, renderString, substituteCaptures, unresolvedTemplates } from "./templates.js";

/** How to run cases against a server. */
export interface ExecuteOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  readonly token?: string | undefined;
  /** Tolerance of `timing_ms.approximate`, in percent. @defaultValue 50 */
  readonly tolerancePct?: number;
  /** Fail instead of skipping `body` assertions on non-object bodies. @defaultValue false */
  readonly strictBody?: boolean;
  /** Per-request timeout. @defaultValue 30000 */
  readonly requestTimeoutMs?: number;
}

/** Outcome of one test case. */
export interface CaseOutcome {
  readonly passed: boolean;
  /** Failure messages, first one first; empty when passed. */
  readonly messages: readonly string[];
  readonly durationMs: number;
}

/** Splits steps into execution groups: a step alone, or all steps linked by `parallel_with`. */
export function groupSteps(steps: readonly Step[]): Step[][] {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    const next = parent.get(id);
    return next === undefined || next === id ? id : find(next);
  };
  for (const step of steps) parent.set(step.id, step.id);
  for (const step of steps) {
    if (step.parallelWith !== undefined && parent.has(step.parallelWith)) {
      parent.set(find(step.id), find(step.parallelWith));
    }
  }
  const groups = new Map<string, Step[]>();
  for (const step of steps) {
    const root = find(step.id);
    const group = groups.get(root);
    if (group === undefined) groups.set(root, [step]);
    else group.push(step);
  }
  return [...groups.values()]; // Map keeps insertion order: a group runs at its first member
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

class CaseRun {
  readonly #options: ExecuteOptions;
  readonly #results = new Map<string, ResponseRecord>();
  /** Values kept by `capture` of earlier steps, for `{{NAME}}`. */
  readonly #captured = new Map<string, Json>();

  constructor(options: ExecuteOptions) {
    this.#options = options;
  }

  async runPhase(steps: readonly Step[]): Promise<string[]> {
    for (const group of groupSteps(steps)) {
      const outcomes = await Promise.all(group.map((step) => this.#runStep(step)));
      const failures = outcomes.flat();
      if (failures.length > 0) return failures;
    }
    return [];
  }

  /** The step with `{{NAME}}` of captured values replaced in its path, headers, body and assertions. */
  #withCaptures(step: Step): Step {
    if (this.#captured.size === 0) return step;
    const sub = (value: Json): Json => substituteCaptures(value, this.#captured);
    const path = step.path === undefined ? undefined : sub(step.path);
    const headers = sub(step.headers);
    const assertions = step.assertions === undefined ? undefined : sub(step.assertions);
    return {
      ...step,
      ...(typeof path === "string" && { path }),
      ...(isJsonObject(headers) && { headers: headers as Record<string, string> }),
      ...(step.body !== undefined && { body: sub(step.body) }),
      ...(isJsonObject(assertions) && { assertions }),
    };
  }

  /** Keeps the values named by the step's `capture`; a value the body lacks is a failure. */
  #capture(step: Step, response: ResponseRecord): string[] {
    const failures: string[] = [];
    for (const [name, path] of Object.entries(step.capture ?? {})) {
      const resolved = resolvePath(response.body, path);
      if (resolved.ok && resolved.value !== undefined && resolved.value !== null)
        this.#captured.set(name, resolved.value);
      else failures.push(`capture ${name}: nothing at ${path}`);
    }
    return failures;
  }

  async #runStep(raw: Step): Promise<string[]> {
    const step = this.#withCaptures(raw);
    await sleep(step.delayMs);
    switch (step.action) {
      case "WAIT":
        await sleep(step.durationMs ?? 0);
        return [];
      case "ASSERT":
        return this.#runAssert(step);
      default:
        return this.#runRequest(step);
    }
  }

  #runAssert(step: Step): string[] {
    const assertions = step.assertions ?? {};
    const unsupported = Object.keys(assertions).filter((key) => !CROSS_STEP_KEYS.has(key));
    const failures = checkCrossStep(assertions, this.#results);
    failures.push(...unsupported.map((key) => `assertion "${key}" is not supported on an ASSERT step`));
    return failures.map((message) => `${step.id} (ASSERT): ${message}`);
  }

  async #runRequest(step: Step): Promise<string[]> {
    const path = renderString(step.path ?? "", this.#results);
    const body =
      step.rawBody ??
      (step.body === undefined ? undefined : JSON.stringify(renderJson(step.body, this.#results)));
    const stepHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(step.headers)) {
      stepHeaders[name] = renderString(value, this.#results);
    }
    const label = `${step.id} (${step.action} ${path})`;
    let response: ResponseRecord;
    try {
      response = await sendRequest(
        {
          method: step.action,
          url: joinUrl(this.#options.baseUrl, path),
          headers: buildHeaders(stepHeaders, { token: this.#options.token, hasBody: body !== undefined }),
          ...(body !== undefined && { body }),
        },
        this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      );
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      return [`${label}: request failed: ${err.message}`];
    }
    this.#results.set(step.id, response);
    const assertions = step.assertions ?? {};
    const failures = checkResponse(assertions, response, this.#results, {
      tolerancePct: this.#options.tolerancePct ?? 50,
      strictBody: this.#options.strictBody ?? false,
    });
    failures.push(...checkCrossStep(assertions, this.#results));
    failures.push(...this.#capture(step, response));
    if (failures.length === 0) return [];
    // raw_body is sent verbatim, so braces in it are not templates
    const unresolved = unresolvedTemplates(`${path} ${step.rawBody === undefined ? (body ?? "") : ""}`);
    if (unresolved.length > 0) {
      failures.push(`note: unresolved template(s) in the request: ${unresolved.join(", ")}`);
    }
    return failures.map((message) => `${label}: ${message}`);
  }
}

/**
 * Runs one test case: `setup` steps, `steps`, then `teardown` steps (whose failures are ignored).
 * A failing setup step fails the test.
 */
export async function runTestCase(testCase: TestCase, options: ExecuteOptions): Promise<CaseOutcome> {
  const started = performance.now();
  const run = new CaseRun(options);
  const messages: string[] = [];
  const setupFailures = await run.runPhase(testCase.setup);
  if (setupFailures.length > 0) messages.push(...setupFailures.map((message) => `setup: ${message}`));
  else messages.push(...(await run.runPhase(testCase.steps)));
  await run.runPhase(testCase.teardown);
  return { passed: messages.length === 0, messages, durationMs: performance.now() - started };
}
