/**
 * Finding, loading and selecting test cases. Cases are selected by folder (`level-N-*`), not by the
 * `level` field inside the files, and sorted by `test_id`, then by file path (ids are not unique).
 * @module
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { TestCase } from "./case.js";
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

/** Level folders (`level-<N>-<name>`) directly inside `suitesDir`, with their level. */
export async function findLevelFolders(suitesDir: string): Promise<{ level: number; dir: string }[]> {
  let entries;
  try {
    entries = await readdir(suitesDir, { withFileTypes: true });
  } catch (err) {
    throw new LoadError(`cannot read suites directory ${suitesDir}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const folders: { level: number; dir: string }[] = [];
  for (const entry of entries) {
    const match = /^level-(\d+)-/.exec(entry.name);
    if (entry.isDirectory() && match !== null)
      folders.push({ level: Number(match[1]), dir: join(suitesDir, entry.name) });
  }
  return folders.sort((a, b) => a.level - b.level || compare(a.dir, b.dir));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders cases by `test_id`, then file path. */
export function compareCases(a: TestCase, b: TestCase): number {
  return compare(a.testId, b.testId) || compare(a.file, b.file);
}

async function loadFile(path: string, suitesDir: string, level: number): Promise<TestCase> {
  const file = relative(suitesDir, path).split(sep).join("/");
  let raw: Json;
  try {
    raw = JSON.parse(await readFile(path, "utf8")) as Json;
  } catch (err) {
    throw new LoadError(`${file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return parseTestCase(raw, file, level);
  } catch (err) {
    if (err instanceof CaseFormatError) throw new LoadError(err.message, { cause: err });
    throw err;
  }
}

/**
 * Loads every `*.json` case below the `level-N-*` folders of the given levels.
 * @param suitesDir - directory holding the `level-N-*` folders
 * @param levels - levels to load
 */
export async function loadCases(suitesDir: string, levels: readonly number[]): Promise<TestCase[]> {
  const info = await stat(suitesDir).catch(() => undefined);
  if (info === undefined || !info.isDirectory())
    throw new LoadError(`suites directory not found: ${suitesDir}`);
  const wanted = new Set(levels);
  const cases: TestCase[] = [];
  for (const folder of await findLevelFolders(suitesDir)) {
    if (!wanted.has(folder.level)) continue;
    const names = await readdir(folder.dir, { recursive: true });
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      cases.push(await loadFile(join(folder.dir, name), suitesDir, folder.level));
    }
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
