#!/usr/bin/env node
// Runs every *.test.ts under the given folders with Node's test runner (TypeScript through tsx).
// Prints the spec report, then a last line "N passed, N failed"; exits 1 on any failure.
// Usage: node scripts/run-tests.mjs [folder...]   (default: test)
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dirs = process.argv.slice(2);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.ts")) files.push(relative(root, p));
  }
}
for (const d of dirs.length ? dirs : ["test"]) walk(join(root, d));
if (files.length === 0) {
  console.error("no test files found");
  process.exit(2);
}

const tapDir = mkdtempSync(join(tmpdir(), "jetjob-tap-"));
const tap = join(tapDir, "report.tap");
const args = [
  "--import",
  "tsx",
  "--test",
  `--test-concurrency=${process.env.JETJOB_TEST_CONCURRENCY ?? 2}`,
  // A test that hangs fails after 5 minutes instead of stalling the whole run.
  "--test-timeout=300000",
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  "--test-reporter=tap",
  `--test-reporter-destination=${tap}`,
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
const code = await new Promise((r) => child.on("exit", (c) => r(c ?? 1)));
let text = "";
try {
  text = readFileSync(tap, "utf8");
} catch {
  // no report: counted as a failure below
}
const passed = Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0);
let failed =
  Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(text)?.[1] ?? 0);
rmSync(tapDir, { recursive: true, force: true });
if (code !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
