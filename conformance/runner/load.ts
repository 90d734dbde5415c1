/**
 * Finding, loading and selecting test cases. Cases are selected by folder (`level-N-*` for the core
 * levels, `ext-NAME` for an extension), not by the `level` field inside the files, and sorted by
 * `test_id`, then by file path (ids are not unique).
 * @module
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { CaseOrigin, TestCase } from "./case.js";
import { CaseFormatError, parseTestCase } from "./case.js";
import type { Json } from "./json.js";
import { errorMessage } from "./json.js";

/** A problem with the suites directory or a case file. */
export class LoadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LoadError";
  }
}

async function subdirectories(suitesDir: string): Promise<string[]> {
  try {
    const entries = await readdir(suitesDir, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (err) {
    throw new LoadError(`cannot read suites directory ${suitesDir}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Level folders (`level-<N>-<name>`) directly inside `suitesDir`, with their level. */
export async function findLevelFolders(suitesDir: string): Promise<{ level: number; dir: string }[]> {
  const folders: { level: number; dir: string }[] = [];
  for (const name of await subdirectories(suitesDir)) {
    const match = /^level-(\d+)-/.exec(name);
    if (match !== null) folders.push({ level: Number(match[1]), dir: join(suitesDir, name) });
  }
  return folders.sort((a, b) => a.level - b.level || compare(a.dir, b.dir));
}

/** Extension folders (`ext-<name>`) directly inside `suitesDir`, with their extension name, by name. */
export async function findExtensionFolders(suitesDir: string): Promise<{ extension: string; dir: string }[]> {
  const folders: { extension: string; dir: string }[] = [];
  for (const name of await subdirectories(suitesDir)) {
    const match = /^ext-(.+)$/.exec(name);
    if (match?.[1] !== undefined) folders.push({ extension: match[1], dir: join(suitesDir, name) });
  }
  return folders.sort((a, b) => compare(a.extension, b.extension));
}

/** Extensions to load: a list of names (`progress` for `ext-progress`) or every `ext-*` folder. */
export type ExtensionSelection = readonly string[] | "all";

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders cases by `test_id`, then file path. */
export function compareCases(a: TestCase, b: TestCase): number {
  return compare(a.testId, b.testId) || compare(a.file, b.file);
}

async function loadFile(path: string, suitesDir: string, origin: CaseOrigin): Promise<TestCase> {
  const file = relative(suitesDir, path).split(sep).join("/");
  let raw: Json;
  try {
    raw = JSON.parse(await readFile(path, "utf8")) as Json;
  } catch (err) {
    throw new LoadError(`${file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return parseTestCase(raw, file, origin);
  } catch (err) {
    if (err instanceof CaseFormatError) throw new LoadError(err.message, { cause: err });
    throw err;
  }
}

async function loadFolder(dir: string, suitesDir: string, origin: CaseOrigin): Promise<TestCase[]> {
  const names = await readdir(dir, { recursive: true });
  const cases: TestCase[] = [];
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    cases.push(await loadFile(join(dir, name), suitesDir, origin));
  }
  return cases;
}

/**
 * Loads every `*.json` case below the `level-N-*` folders of the given levels and the `ext-NAME`
 * folders of the given extensions. A named extension without a folder is a {@link LoadError}.
 * @param suitesDir - directory holding the `level-N-*` and `ext-*` folders
 * @param levels - levels to load
 * @param extensions - extensions to load @defaultValue none
 */
export async function loadCases(
  suitesDir: string,
  levels: readonly number[],
  extensions: ExtensionSelection = [],
): Promise<TestCase[]> {
  const info = await stat(suitesDir).catch(() => undefined);
  if (info === undefined || !info.isDirectory())
    throw new LoadError(`suites directory not found: ${suitesDir}`);
  const wanted = new Set(levels);
  const cases: TestCase[] = [];
  for (const folder of await findLevelFolders(suitesDir)) {
    if (wanted.has(folder.level)) cases.push(...(await loadFolder(folder.dir, suitesDir, folder)));
  }
  const present = await findExtensionFolders(suitesDir);
  if (extensions !== "all") {
    const missing = extensions.filter((name) => !present.some((f) => f.extension === name));
    if (missing.length > 0) {
      throw new LoadError(
        `no extension folder ${missing.map((name) => `ext-${name}`).join(", ")} in ${suitesDir}`,
      );
    }
  }
  for (const folder of present) {
    if (extensions === "all" || extensions.includes(folder.extension))
      cases.push(...(await loadFolder(folder.dir, suitesDir, folder)));
  }
  return cases.sort(compareCases);
}

/** Filters applied after loading. */
export interface Selection {
  /** Keep only these test ids (empty = all). */
  readonly testIds?: readonly string[];
  /** Keep only these categories (empty = all). */
  readonly categories?: readonly string[];
}

/** Applies `--test` / `--category` filters. */
export function selectCases(cases: readonly TestCase[], selection: Selection): TestCase[] {
  const ids = new Set(selection.testIds ?? []);
  const categories = new Set(selection.categories ?? []);
  return cases.filter(
    (tc) => (ids.size === 0 || ids.has(tc.testId)) && (categories.size === 0 || categories.has(tc.category)),
  );
}
