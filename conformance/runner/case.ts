/**
 * The OJS conformance test-case schema and its validation from parsed JSON.
 * @module
 */
import type { Json, JsonObject } from "./json.js";
import { isJsonObject } from "./json.js";

/** Step actions that send an HTTP request. */
export const HTTP_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"] as const;

/** An HTTP method a step may use. */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A step action: an HTTP method, a pause (`WAIT`) or a cross-step check (`ASSERT`). */
export type StepAction = HttpMethod | "WAIT" | "ASSERT";

/** One step of a test case, normalised. */
export interface Step {
  readonly id: string;
  readonly action: StepAction;
  /** Appended to the base URL; may contain `{{templates}}` and a query string. */
  readonly path?: string;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON request body; templates are resolved inside its strings. */
  readonly body?: Json;
  /** Request body sent verbatim (takes precedence over `body`). */
  readonly rawBody?: string;
  /** Sleep before the step, in milliseconds. */
  readonly delayMs: number;
  /** Duration of a `WAIT` step, in milliseconds. */
  readonly durationMs?: number;
  /** Id of a step this one runs concurrently with. */
  readonly parallelWith?: string;
  /** Raw assertion object, interpreted by `assertions.ts`. */
  readonly assertions?: JsonObject;
  /**
   * `capture: {NAME: JSONPATH}` (used by some extension cases): after the step, the response body's
   * value at JSONPATH is kept as NAME for `{{NAME}}` in later steps of the case.
   */
  readonly capture?: Readonly<Record<string, string>>;
}

/**
 * Where a case was loaded from: a core level folder (`level-N-*`) or an extension folder (`ext-NAME`).
 * Taken from the folder name, not from the file's `level` field (extension cases say `level: 0` too).
 */
export type CaseOrigin = { readonly level: number } | { readonly extension: string };

/** A loaded test case. */
export interface TestCase {
  readonly testId: string;
  /** Level taken from the folder name (`level-N-*`); `null` for an extension case. */
  readonly level: number | null;
  /** Extension name taken from the folder name (`ext-NAME` → `NAME`); `null` for a core case. */
  readonly extension: string | null;
  readonly category: string;
  readonly name: string;
  /** Path relative to the suites directory, with `/` separators. */
  readonly file: string;
  readonly setup: readonly Step[];
  readonly steps: readonly Step[];
  readonly teardown: readonly Step[];
}

/** Thrown when a case file does not follow the schema. */
export class CaseFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaseFormatError";
  }
}

function optionalString(obj: JsonObject, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new CaseFormatError(`${where}: "${key}" must be a string`);
  return value;
}

function optionalMs(obj: JsonObject, key: string, where: string): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CaseFormatError(`${where}: "${key}" must be a non-negative number`);
  }
  return value;
}

function parseAction(value: Json | undefined, where: string): StepAction {
  if (typeof value !== "string") throw new CaseFormatError(`${where}: "action" must be a string`);
  const upper = value.toUpperCase();
  if (upper === "WAIT" || upper === "ASSERT") return upper;
  const method = HTTP_METHODS.find((m) => m === upper);
  if (method === undefined) throw new CaseFormatError(`${where}: unknown action "${value}"`);
  return method;
}

function parseHeaders(value: Json | undefined, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isJsonObject(value)) throw new CaseFormatError(`${where}: "headers" must be an object`);
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value)) {
    if (typeof headerValue !== "string") {
      throw new CaseFormatError(`${where}: header "${name}" must be a string`);
    }
    headers[name] = headerValue;
  }
  return headers;
}

function parseCapture(value: Json | undefined, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) throw new CaseFormatError(`${where}: "capture" must be an object`);
  const capture: Record<string, string> = {};
  for (const [name, path] of Object.entries(value)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || typeof path !== "string") {
      throw new CaseFormatError(`${where}: capture "${name}" must be a name mapped to a JSONPath string`);
    }
    capture[name] = path;
  }
  return capture;
}

/** Validates one raw step. */
export function parseStep(raw: Json, where: string): Step {
  if (!isJsonObject(raw)) throw new CaseFormatError(`${where}: a step must be an object`);
  const id = raw["id"];
  if (typeof id !== "string" || id === "") throw new CaseFormatError(`${where}: step "id" must be a string`);
  const at = `${where} step ${id}`;
  const assertions = raw["assertions"];
  if (assertions !== undefined && !isJsonObject(assertions)) {
    throw new CaseFormatError(`${at}: "assertions" must be an object`);
  }
  const path = optionalString(raw, "path", at);
  const rawBody = optionalString(raw, "raw_body", at);
  const durationMs = optionalMs(raw, "duration_ms", at);
  const parallelWith = optionalString(raw, "parallel_with", at);
  const body = raw["body"];
  const capture = parseCapture(raw["capture"], at);
  return {
    id,
    action: parseAction(raw["action"], at),
    headers: parseHeaders(raw["headers"], at),
    delayMs: optionalMs(raw, "delay_ms", at) ?? 0,
    ...(path !== undefined && { path }),
    ...(body !== undefined && { body }),
    ...(rawBody !== undefined && { rawBody }),
    ...(durationMs !== undefined && { durationMs }),
    ...(parallelWith !== undefined && { parallelWith }),
    ...(assertions !== undefined && { assertions }),
    ...(capture !== undefined && { capture }),
  };
}

function parseStepList(value: Json | undefined, where: string): Step[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new CaseFormatError(`${where}: steps must be an array`);
  const steps = value.map((raw) => parseStep(raw, where));
  const ids = new Set<string>();
  for (const step of steps) {
    if (ids.has(step.id)) throw new CaseFormatError(`${where}: duplicate step id "${step.id}"`);
    ids.add(step.id);
  }
  for (const step of steps) {
    if (step.parallelWith !== undefined && !ids.has(step.parallelWith)) {
      throw new CaseFormatError(`${where} step ${step.id}: parallel_with "${step.parallelWith}" not found`);
    }
  }
  return steps;
}

function parseSection(raw: JsonObject, key: "setup" | "teardown", file: string): Step[] {
  const section = raw[key];
  if (section === undefined) return [];
  if (!isJsonObject(section)) throw new CaseFormatError(`${file}: "${key}" must be an object`);
  return parseStepList(section["steps"], `${file} ${key}`);
}

/**
 * Validates a parsed case file.
 * @param raw - the parsed JSON
 * @param file - path relative to the suites directory (for messages and results)
 * @param origin - level or extension, taken from the folder name
 */
export function parseTestCase(raw: Json, file: string, origin: CaseOrigin): TestCase {
  if (!isJsonObject(raw)) throw new CaseFormatError(`${file}: a test case must be a JSON object`);
  const testId = raw["test_id"];
  if (typeof testId !== "string" || testId === "") {
    throw new CaseFormatError(`${file}: "test_id" must be a non-empty string`);
  }
  if (!Array.isArray(raw["steps"])) throw new CaseFormatError(`${file}: "steps" must be an array`);
  return {
    testId,
    level: "level" in origin ? origin.level : null,
    extension: "extension" in origin ? origin.extension : null,
    category: optionalString(raw, "category", file) ?? "",
    name: optionalString(raw, "name", file) ?? "",
    file,
    setup: parseSection(raw, "setup", file),
    steps: parseStepList(raw["steps"], file),
    teardown: parseSection(raw, "teardown", file),
  };
}
