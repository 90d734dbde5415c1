#!/usr/bin/env node
// Entry point of the `jetjob` command; the CLI itself is compiled to dist/ by `npm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error("jetjob: dist/ is missing; run `npm run build` (or `npm ci`) in the jetjob folder first");
  process.exit(2);
}
await import(main.href);
