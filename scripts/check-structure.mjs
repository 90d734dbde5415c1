#!/usr/bin/env node
// Structure checks on src/ (run by `npm test` and `npm run check:structure`), failing on:
// - an import cycle between files, runtime or type-only (`import type` counts: a type cycle is a
//   design cycle), found from dpdm's dependency tree;
// - a cycle between src's top-level folders (e.g. store/ importing fleet/ while fleet/ imports store/):
//   the layers import one way;
// - a src file longer than MAX_LINES lines;
// - a src function (declaration, method, arrow or function expression, nested ones too) longer than
//   MAX_FUNCTION_LINES lines, found with the TypeScript compiler's parser.
// Prints what it found and ends with "N passed, N failed" (one check each).
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";

import { parseDependencyTree } from "dpdm";
import ts from "typescript";

const root = new URL("..", import.meta.url).pathname;
/** No src file may be longer than this (issue 20: a newcomer reads a file in one sitting). */
const MAX_LINES = 400;
/**
 * Files over the limit until they are split (issue 20), each with the length it may not grow past.
 * Shrink this list; never add to it.
 */
const KNOWN_LONG = {};
/**
 * No src function may be longer than this (issue 20: a factory closure too long to read in one
 * sitting is split into named parts: module functions or small factories over an explicit state).
 */
const MAX_FUNCTION_LINES = 150;
/**
 * Functions over the limit until they are split (issue 20), as `file#name` (the name of the
 * function, method or variable it is assigned to), each with the length it may not grow past.
 * Shrink this list; never add to it.
 */
const KNOWN_LONG_FUNCTIONS = {
  "src/server/routes-ojs-admin.ts#ojsAdminRoutes": 291,
  "src/server/routes-ojs-schemas.ts#schemaRoutes": 203,
  "src/cli/queue.ts#registerQueueCommands": 186,
  "src/cli/job.ts#registerJobCommands": 176,
  "src/cli/worker.ts#registerWorkerCommands": 173,
  "src/server/routes-ojs-admin-stats.ts#ojsAdminStatsRoutes": 171,
  "src/server/routes-ojs.ts#ojsJobRoutes": 168,
  "src/store/engine.ts#createEngine": 162,
  "src/cli/start.ts#startCommand": 168,
  "src/server/routes-fleet.ts#fleetRoutes": 160,
  "src/access/identities.ts#identityStore": 153,
  "src/client/http.ts#createHttpTransport": 151,
};

const tree = await parseDependencyTree(["src/**/*.ts"], {
  cwd: root,
  context: root,
  transform: false,
  skipDynamicImports: false,
  onProgress: () => undefined,
});

/** Edges between src files (relative paths), type-only imports included. */
const edges = new Map();
for (const [file, deps] of Object.entries(tree)) {
  const from = relative(root, join(root, file));
  if (!from.startsWith("src/")) continue;
  const to = new Set();
  for (const d of deps ?? []) {
    if (!d.id) continue;
    const target = relative(root, join(root, d.id));
    if (target.startsWith("src/")) to.add(target);
  }
  edges.set(from, to);
}

/** Strongly connected components with more than one node, or a node importing itself (Tarjan). */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? new Set()).has(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** The edges inside one component, to show where to cut. */
function inside(graph, scc, label = (a, b) => `${a} -> ${b}`) {
  const set = new Set(scc);
  const lines = [];
  for (const a of scc) for (const b of graph.get(a) ?? []) if (set.has(b)) lines.push(`    ${label(a, b)}`);
  return lines;
}

let passed = 0;
let failed = 0;
function report(name, problems) {
  if (problems.length === 0) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}`);
    for (const p of problems) console.log(p);
  }
}

// 1. File cycles.
const fileCycles = cycles(edges);
report(
  `no import cycles between src files (${edges.size} files)`,
  fileCycles.flatMap((scc, i) => [`  cycle ${i + 1}: ${scc.join(", ")}`, ...inside(edges, scc)]),
);

// 2. Folder cycles (src/<folder>/...; files directly in src/ are the package's entry points).
const folderOf = (f) => {
  const parts = f.split("/");
  return parts.length > 2 ? parts[1] : undefined;
};
const folders = new Map();
const via = new Map();
for (const [from, tos] of edges) {
  const a = folderOf(from);
  if (!a) continue;
  if (!folders.has(a)) folders.set(a, new Set());
  for (const to of tos) {
    const b = folderOf(to);
    if (!b || a === b) continue;
    folders.get(a).add(b);
    const k = `${a} -> ${b}`;
    if (!via.has(k)) via.set(k, []);
    via.get(k).push(`${from} -> ${to}`);
  }
}
const folderCycles = cycles(folders);
report(
  `no import cycles between src folders (${folders.size} folders)`,
  folderCycles.flatMap((scc, i) => [
    `  cycle ${i + 1}: ${scc.join(", ")}`,
    ...inside(folders, scc, (a, b) => `${a} -> ${b} (${via.get(`${a} -> ${b}`).slice(0, 3).join("; ")})`),
  ]),
);

// 3. File length.
const long = [];
for (const f of [...edges.keys()].sort()) {
  const text = readFileSync(join(root, f), "utf8");
  const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
  const allowed = KNOWN_LONG[f] ?? MAX_LINES;
  if (lines > allowed) long.push(`  ${f}: ${lines} lines (at most ${allowed})`);
  else if (lines > MAX_LINES) console.log(`  (still to split: ${f}, ${lines} lines)`);
}
report(`no src file over ${MAX_LINES} lines`, long);

// 4. Function length.
/** Every function in a file over MAX_FUNCTION_LINES lines: `file#name` and its length. */
function longFunctions(file) {
  const sf = ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (n) => {
    if (
      ts.isFunctionDeclaration(n) ||
      ts.isMethodDeclaration(n) ||
      ts.isArrowFunction(n) ||
      ts.isFunctionExpression(n)
    ) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      if (last - first + 1 > MAX_FUNCTION_LINES) {
        const p = n.parent;
        const name =
          n.name?.getText(sf) ??
          (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p))
            ? p.name.getText(sf)
            : "(anonymous)");
        found.push({ key: `${file}#${name}`, lines: last - first + 1, line: first + 1 });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}
const longFns = [];
const stillLong = new Set();
for (const f of [...edges.keys()].sort()) {
  for (const { key, lines, line } of longFunctions(f)) {
    stillLong.add(key);
    const allowed = KNOWN_LONG_FUNCTIONS[key] ?? MAX_FUNCTION_LINES;
    if (lines > allowed) longFns.push(`  ${key} (line ${line}): ${lines} lines (at most ${allowed})`);
    else console.log(`  (still to split: ${key}, ${lines} lines)`);
  }
}
for (const key of Object.keys(KNOWN_LONG_FUNCTIONS)) {
  if (!stillLong.has(key)) console.log(`  (split or gone: remove ${key} from KNOWN_LONG_FUNCTIONS)`);
}
report(`no src function over ${MAX_FUNCTION_LINES} lines`, longFns);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
