/**
 * Test harness for the `jetjob` command, run as a user runs it: child processes from source
 * (`node --import tsx src/cli/main.ts`), `jetjob start` on random ports with a temp data dir, and a
 * small HTTP client with the admin token for driving the API the way a worker would.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before } from "node:test";

import { callJson } from "./http.js";
import { waitFor } from "./nats.js";

export const root = resolve(import.meta.dirname, "../..");
export const cliArgs = ["--import", "tsx", join(root, "src/cli/main.ts")];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `jetjob ARGS` to the end (no colours). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [...cliArgs, ...args],
      { cwd: root, env: { ...process.env, ...env, NO_COLOR: "1" }, timeout: 60_000 },
      (err, stdout, stderr) =>
        res({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export interface CliChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `jetjob ARGS` in the background (no colours), for commands that run until something happens. */
export function spawnCli(args: string[], env: Record<string, string> = {}): CliChild {
  let out = "";
  let err = "";
  const child = spawn(process.execPath, [...cliArgs, ...args], {
    cwd: root,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

export interface Started {
  child: ChildProcess;
  dataDir: string;
  output: () => string;
}

/** Runs `jetjob start --port 0 --nats-port 0 --data-dir DIR` and waits until it is ready. */
export async function startJetjob(dataDir: string, extra: string[] = []): Promise<Started> {
  let out = "";
  const child = spawn(
    process.execPath,
    [...cliArgs, "start", "--port", "0", "--nats-port", "0", "--data-dir", dataDir, ...extra],
    {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", JETJOB_API_TOKEN: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  try {
    // About 2 s here; one CI run under the load of the other test files took more than 30 s.
    await waitFor(() => out.includes("Press Ctrl-C to stop") || child.exitCode !== null, {
      timeoutMs: 60_000,
      what: "jetjob start",
    });
  } catch (err) {
    // Not ready: stop it, or it keeps the test file alive until the runner's timeout, and say how far it got.
    child.kill("SIGKILL");
    throw new Error(`${String(err)}; jetjob start printed:\n${out}`, { cause: err });
  }
  assert.equal(child.exitCode, null, out);
  return { child, dataDir, output: () => out };
}

/** The NATS login of a `jetjob start` (its generated password), for SDK workers in tests. */
export function natsLogin(dataDir: string): { user: string; pass: string } {
  return { user: "jetjob", pass: readFileSync(join(dataDir, "nats.password"), "utf8").trim() };
}

/** The pid of the nats-server a `jetjob start` runs (from its ports file). */
export function natsPid(dataDir: string): number {
  const run = join(dataDir, "nats", ".run");
  const f = readdirSync(run).find((n) => n.endsWith(".ports"))!;
  return Number(/_(\d+)\.ports$/.exec(f)![1]);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface HttpApi {
  url: string;
  token: string;
  /** Calls the API with the admin token; fails the test on a non-2xx answer. */
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
}

/** An HTTP client for the server a `jetjob start` in `dataDir` runs. */
export function httpApi(dataDir: string): HttpApi {
  const { api } = JSON.parse(readFileSync(join(dataDir, "endpoints.json"), "utf8")) as { api: string };
  const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  return {
    url: api,
    token,
    call: <T>(method: string, path: string, body?: unknown) => callJson<T>(api, token, method, path, body),
  };
}

/**
 * One `jetjob start` for a test file: started before its tests, stopped (SIGTERM, with its
 * nats-server) and its data dir removed after them.
 */
export function useJetjob(): { readonly jetjob: Started } {
  let started: Started | undefined;
  before(async () => {
    started = await startJetjob(mkdtempSync(join(tmpdir(), "jetjob-cli-")));
  });
  after(async () => {
    if (!started) return;
    const { child, dataDir } = started;
    const pid = natsPid(dataDir);
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await waitFor(() => !alive(pid), { what: "nats-server to exit" });
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get jetjob() {
      if (!started) throw new Error("useJetjob(): not started yet (use it inside a test)");
      return started;
    },
  };
}
