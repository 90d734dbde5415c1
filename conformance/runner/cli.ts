/**
 * Command line of the conformance runner: option parsing and the run itself.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_REQUEST_TIMEOUT_MS, joinUrl } from "./http.js";
import { errorMessage } from "./json.js";
import type { ExtensionSelection } from "./load.js";
import { loadCases, LoadError, selectCases } from "./load.js";
import { buildReport, formatCaseLines, formatSummaryLines } from "./report.js";
import { checkReachable, ResetError, runSuite, UnreachableError } from "./suite.js";

/** Exit codes. */
export const ExitCode = { Passed: 0, Failed: 1, ConfigError: 2 } as const;

/** Levels run when neither `--level` nor `--ext` is given. */
export const DEFAULT_LEVELS: readonly number[] = [0, 1, 2, 3, 4];

/** Default suites directory: `conformance/suites`, next to this runner. */
export const DEFAULT_SUITES_DIR = fileURLToPath(new URL("../suites", import.meta.url));

/** Parsed command-line options. */
export interface CliOptions {
  readonly baseUrl: string;
  readonly token: string | undefined;
  readonly levels: readonly number[];
  /** Extension folders (`ext-NAME`) to run: names, or `"all"`; empty when `--ext` was not given. */
  readonly extensions: ExtensionSelection;
  readonly testIds: readonly string[];
  readonly categories: readonly string[];
  readonly skipIds: readonly string[];
  readonly suitesDir: string;
  /** `undefined` when `--no-reset` was given. */
  readonly resetUrl: string | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly strictBody: boolean;
  readonly tolerancePct: number;
  readonly help: boolean;
}

/** Invalid command-line usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Usage text. */
export const USAGE = `Usage: node --import tsx conformance/runner/main.ts [options]

Runs the OJS conformance cases (conformance/suites/level-N-*, ext-NAME) against a server.

Options:
  --url URL          server base URL (env OJS_TEST_URL, default http://127.0.0.1:8080)
  --token T          send "Authorization: Bearer T" (env JETJOB_API_TOKEN)
  --level L          levels to run: N, A-B or a comma list (default 0-4, none when --ext is given)
  --ext NAME         extension suites to run, folder ext-NAME (repeatable or comma-separated);
                     "all" runs every ext-* folder present
  --test ID          run only these test ids (repeatable or comma-separated)
  --category C       run only these categories (repeatable or comma-separated)
  --skip ID          skip these test ids (repeatable or comma-separated)
  --suites DIR       suites directory (default conformance/suites)
  --reset-url URL    POSTed before every test (default <url>/ojs/v1/admin/reset)
  --no-reset         do not reset between tests
  --tolerance N      timing_ms.approximate tolerance in percent (default 50)
  --strict-body      fail body assertions on non-object bodies instead of skipping them
  --json             print a JSON report instead of text
  --verbose          also print passing tests
  -h, --help         show this help

Exit code: 0 all passed, 1 some failed, 2 configuration error.`;

function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter((v) => v !== "");
}

/** Parses `--level` values: `2`, `0-4`, `0,1`, `0-1,3`. */
export function parseLevels(spec: string): number[] {
  const levels = new Set<number>();
  for (const part of spec.split(",").map((p) => p.trim())) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) throw new UsageError(`invalid --level "${spec}" (use N, A-B or a comma list)`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new UsageError(`invalid --level range "${part}"`);
    for (let level = from; level <= to; level += 1) levels.add(level);
  }
  return [...levels].sort((a, b) => a - b);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Parses the command line (without `node` and the script) and the environment. */
export function parseCliArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        level: { type: "string" },
        ext: { type: "string", multiple: true },
        test: { type: "string", multiple: true },
        category: { type: "string", multiple: true },
        skip: { type: "string", multiple: true },
        suites: { type: "string" },
        "reset-url": { type: "string" },
        "no-reset": { type: "boolean" },
        tolerance: { type: "string" },
        "strict-body": { type: "boolean" },
        json: { type: "boolean" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const rawUrl = nonEmpty(values.url) ?? nonEmpty(env["OJS_TEST_URL"]) ?? "http://127.0.0.1:8080";
  let baseUrl: string;
  try {
    const parsed = new URL(rawUrl);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http(s)");
    baseUrl = rawUrl.replace(/\/+$/, "");
  } catch {
    throw new UsageError(`invalid --url "${rawUrl}"`);
  }
  const tolerancePct = values.tolerance === undefined ? 50 : Number(values.tolerance);
  if (!Number.isFinite(tolerancePct) || tolerancePct < 0) {
    throw new UsageError(`invalid --tolerance "${values.tolerance}" (a non-negative percentage)`);
  }
  if (values["no-reset"] === true && values["reset-url"] !== undefined) {
    throw new UsageError("--reset-url and --no-reset are mutually exclusive");
  }
  const extensionNames = splitList(values.ext);
  if (values.ext !== undefined && extensionNames.length === 0) throw new UsageError("empty --ext");
  const extensions: ExtensionSelection = extensionNames.includes("all") ? "all" : extensionNames;
  const defaultLevels = extensionNames.length > 0 ? [] : DEFAULT_LEVELS;
  return {
    baseUrl,
    token: nonEmpty(values.token) ?? nonEmpty(env["JETJOB_API_TOKEN"]),
    levels: values.level === undefined ? defaultLevels : parseLevels(values.level),
    extensions,
    testIds: splitList(values.test),
    categories: splitList(values.category),
    skipIds: splitList(values.skip),
    suitesDir: values.suites ?? DEFAULT_SUITES_DIR,
    resetUrl:
      values["no-reset"] === true
        ? undefined
        : (values["reset-url"] ?? joinUrl(baseUrl, "/ojs/v1/admin/reset")),
    json: values.json === true,
    verbose: values.verbose === true,
    strictBody: values["strict-body"] === true,
    tolerancePct,
    help: values.help === true,
  };
}

/** Where the CLI writes; lines are passed without a trailing newline. */
export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

function warnMissing(wanted: readonly string[], found: ReadonlySet<string>, flag: string, io: CliIo): void {
  const missing = wanted.filter((id) => !found.has(id));
  if (missing.length > 0) io.stderr(`warning: ${flag} ${missing.join(", ")} matched no selected test`);
}

/**
 * Runs the CLI.
 * @returns the process exit code (see {@link ExitCode})
 */
export async function runCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
): Promise<number> {
  const started = performance.now();
  try {
    const options = parseCliArgs(argv, env);
    if (options.help) {
      io.stdout(USAGE);
      return ExitCode.Passed;
    }
    const loaded = await loadCases(options.suitesDir, options.levels, options.extensions);
    const cases = selectCases(loaded, { testIds: options.testIds, categories: options.categories });
    warnMissing(options.testIds, new Set(loaded.map((tc) => tc.testId)), "--test", io);
    warnMissing(options.skipIds, new Set(cases.map((tc) => tc.testId)), "--skip", io);
    const skipIds = new Set(options.skipIds);
    if (cases.filter((tc) => !skipIds.has(tc.testId)).length === 0) {
      const extensions = options.extensions === "all" ? ["all"] : options.extensions;
      throw new UsageError(
        `no tests selected (levels ${options.levels.join(",") || "none"}, extensions ${extensions.join(",") || "none"} in ${options.suitesDir})`,
      );
    }
    await checkReachable(options.baseUrl, options.token, DEFAULT_REQUEST_TIMEOUT_MS);
    const results = await runSuite(cases, {
      baseUrl: options.baseUrl,
      token: options.token,
      tolerancePct: options.tolerancePct,
      strictBody: options.strictBody,
      resetUrl: options.resetUrl,
      skipIds,
      onResult: (result) => {
        if (!options.json) for (const line of formatCaseLines(result, options.verbose)) io.stdout(line);
      },
    });
    const report = buildReport(results, performance.now() - started);
    if (options.json) io.stdout(JSON.stringify(report, null, 2));
    else for (const line of formatSummaryLines(report)) io.stdout(line);
    return report.failed === 0 ? ExitCode.Passed : ExitCode.Failed;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}`);
      io.stderr("run with --help for usage");
      return ExitCode.ConfigError;
    }
    if (err instanceof LoadError || err instanceof UnreachableError) {
      io.stderr(`error: ${err.message}`);
      return ExitCode.ConfigError;
    }
    if (err instanceof ResetError) {
      io.stderr(`error: ${err.message}`);
      io.stderr(
        "stopping: results without a clean state would be meaningless (use --no-reset to run without)",
      );
      return ExitCode.ConfigError;
    }
    throw err;
  }
}
