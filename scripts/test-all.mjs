#!/usr/bin/env node
// The whole test run (`npm test`): static checks, build, unit and behaviour tests against real
// nats-servers (and the dashboard in a real headless Chromium), and the OJS conformance suite against
// a real `jetjob start`. Every stage runs even
// when an earlier one failed; the last line is the total "N passed, N failed".
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const npx = (bin) => join(root, "node_modules", ".bin", bin);
/** Conformance levels run by `npm test`. */
const CONFORMANCE_LEVELS = process.env.JETJOB_CONFORMANCE_LEVELS ?? "0-4";
/**
 * Cases documented upstream as unpassable as written, skipped (and listed) rather than counted:
 * L1-RTR-014 expects errors[i].type values (ConnectionTimeout, ...) that its own nack requests never send.
 */
const CONFORMANCE_SKIP = "L1-RTR-014";

/**
 * The extension suites run with the levels: exactly the extensions the server claims in its manifest
 * (`GET /ojs/manifest`, `extensions.official` and `.experimental`, ojs-extension-lifecycle §7), so the
 * manifest (src/server/manifest.ts) is the one list; each must have its `conformance/suites/ext-NAME`
 * folder (the runner refuses a missing one), and a claimed extension whose cases fail fails the run.
 */
async function claimedExtensions(api, token) {
  const res = await globalThis.fetch(new URL("/ojs/manifest", api), {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`GET /ojs/manifest answered ${res.status}`);
  const { extensions } = await res.json();
  const entries = Array.isArray(extensions)
    ? extensions
    : [...(extensions?.official ?? []), ...(extensions?.experimental ?? [])];
  return entries.map((entry) => (typeof entry === "string" ? entry : entry.name));
}

let passed = 0;
let failed = 0;
const summary = [];

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    let out = "";
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], ...opts });
    child.stdout.on("data", (c) => {
      out += c;
      process.stdout.write(c);
    });
    child.stderr.on("data", (c) => process.stderr.write(c));
    child.on("exit", (code) => resolve({ code: code ?? 1, out }));
  });
}

function countsFrom(out) {
  const m = /(\d+) passed, (\d+) failed\s*$/.exec(out.trim());
  return m ? { p: Number(m[1]), f: Number(m[2]) } : undefined;
}

async function stage(name, fn) {
  const t0 = Date.now();
  console.log(`\n=== ${name} ===`);
  let r;
  try {
    r = await fn();
  } catch (err) {
    console.error(err);
    r = { p: 0, f: 1 };
  }
  passed += r.p;
  failed += r.f;
  summary.push(
    `${name.padEnd(28)} ${String(r.p).padStart(5)} passed ${String(r.f).padStart(4)} failed  ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );
}

async function check(name, cmd, args) {
  await stage(name, async () => {
    const { code } = await run(cmd, args);
    return code === 0 ? { p: 1, f: 0 } : { p: 0, f: 1 };
  });
}

await check("install nats-server", "bash", [join(root, "scripts/install-nats-server.sh")]);
await check("install chromium", "bash", [join(root, "scripts/install-chromium.sh")]);
await check("typecheck (tsc)", npx("tsc"), ["-p", "tsconfig.json", "--noEmit"]);
await check("lint (eslint)", npx("eslint"), ["."]);
await check("format (prettier)", npx("prettier"), ["--check", "."]);
await check("structure (cycles, file size)", process.execPath, [join(root, "scripts/check-structure.mjs")]);
await check("build", npx("tsc"), ["-p", "tsconfig.build.json"]);

await stage("unit + behaviour tests", async () => {
  const { code, out } = await run(process.execPath, [
    join(root, "scripts/run-tests.mjs"),
    "test/unit",
    "test/behaviour",
  ]);
  return countsFrom(out) ?? { p: 0, f: code === 0 ? 0 : 1 };
});

await stage("reliability (faults, cluster)", async () => {
  // Kill tests with real processes and a 3-node NATS cluster: one file at a time, they load the machine.
  const { code, out } = await run(
    process.execPath,
    [join(root, "scripts/run-tests.mjs"), "test/reliability"],
    {
      env: { ...process.env, JETJOB_TEST_CONCURRENCY: "1" },
    },
  );
  return countsFrom(out) ?? { p: 0, f: code === 0 ? 0 : 1 };
});

await stage(`OJS conformance (levels ${CONFORMANCE_LEVELS} + ext)`, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "jetjob-conformance-"));
  const server = spawn(
    process.execPath,
    [
      join(root, "bin/jetjob.js"),
      "start",
      "--port",
      "0",
      "--nats-port",
      "0",
      "--data-dir",
      dataDir,
      "--enable-reset",
    ],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, JETJOB_API_TOKEN: "" },
    },
  );
  let banner = "";
  server.stdout.on("data", (c) => (banner += c));
  try {
    const deadline = Date.now() + 30_000;
    while (
      !existsSync(join(dataDir, "endpoints.json")) &&
      Date.now() < deadline &&
      server.exitCode === null
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!existsSync(join(dataDir, "endpoints.json")))
      throw new Error(`jetjob start did not come up:\n${banner}`);
    const { api } = JSON.parse(readFileSync(join(dataDir, "endpoints.json"), "utf8"));
    const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    console.log(`jetjob start is up at ${api}`);
    const extensions = await claimedExtensions(api, token);
    console.log(`extension suites (from the manifest): ${extensions.join(", ") || "none"}`);
    const { code, out } = await run(process.execPath, [
      "--import",
      "tsx",
      join(root, "conformance/runner/main.ts"),
      "--url",
      api,
      "--token",
      token,
      "--level",
      CONFORMANCE_LEVELS,
      ...(extensions.length > 0 ? ["--ext", extensions.join(",")] : []),
      "--skip",
      CONFORMANCE_SKIP,
    ]);
    return countsFrom(out) ?? { p: 0, f: code === 0 ? 0 : 1 };
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => (server.exitCode !== null ? r() : server.once("exit", r)));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// The benchmark's smoke run: every scenario (jetjob, BullMQ on redis-server, raw JetStream) runs and
// checks its own results (all jobs done, none left); figures from a loaded CI machine are not compared.
await check("install redis-server", "bash", [join(root, "scripts/install-redis.sh")]);
await check("benchmark smoke (bench --quick)", process.execPath, [
  "--import",
  "tsx",
  join(root, "bench/run.ts"),
  "--quick",
]);

console.log("\n=== summary ===");
for (const line of summary) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
