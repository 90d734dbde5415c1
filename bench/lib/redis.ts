/**
 * The redis-server for the BullMQ side of the comparisons: found on PATH or in `.tools/bin` (put
 * there by scripts/install-redis.sh), started per run on a free loopback port with a temp dir, no
 * persistence (`--save "" --appendonly no`, as in the reference measurements), and stopped after.
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

import { spawnGuarded } from "../../src/natsd/guard.js";
import { packageRoot } from "../../src/natsd/index.js";

export interface FoundRedis {
  path: string;
  version: string;
}

let found: FoundRedis | undefined;

/** redis-server on PATH, else `<repo>/.tools/bin/redis-server`; throws with the install hint. */
export function findRedisServer(): FoundRedis {
  if (found) return found;
  const paths = (process.env.PATH ?? "")
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, "redis-server"));
  paths.push(join(packageRoot, ".tools", "bin", "redis-server"));
  for (const path of paths) {
    try {
      accessSync(path, constants.X_OK);
      const out = execFileSync(path, ["--version"], { encoding: "utf8", timeout: 5000 });
      const version = /v=(\d+\.\d+\.\d+)/.exec(out)?.[1];
      if (version) return (found = { path, version });
    } catch {
      // not there or not runnable: try the next one
    }
  }
  throw new Error("redis-server not found: run `bash scripts/install-redis.sh` (puts it into .tools/bin)");
}

export interface RunningRedis {
  host: string;
  port: number;
  /** The redis-server process itself (for its memory figures). */
  pid: number;
  stop(): Promise<void>;
}

export async function startRedisServer(): Promise<RunningRedis> {
  const { path } = findRedisServer();
  const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-redis-"));
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir];
  args.push("--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning");
  // Stopped when this process disappears, even on kill -9 (as nats-server is).
  const child: ChildProcess = spawnGuarded(path, args, "TERM", {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let pid: number;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await command(port, "INFO server").catch(() => undefined);
    const m = info ? /process_id:(\d+)/.exec(info) : null;
    if (m) {
      pid = Number(m[1]);
      break;
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server (${path}) did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    host: "127.0.0.1",
    port,
    pid,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One inline command over a fresh connection; resolves with the raw reply once it looks complete. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    let buf = "";
    const done = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(buf);
    };
    sock.setTimeout(1000, () => done(new Error("timeout")));
    sock.once("error", done);
    sock.on("connect", () => sock.write(`${line}\r\n`));
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const m = /^\$(\d+)\r\n/.exec(buf);
      if (buf.startsWith("-") || (m && Buffer.byteLength(buf) >= m[0].length + Number(m[1]) + 2)) done();
    });
  });
}
