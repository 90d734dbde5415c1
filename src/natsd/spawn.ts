/**
 * Running a nats-server child process (for `jetjob start` and the test harness): loopback only by
 * default, JetStream on, random free ports reported through a ports file. The child runs under a small
 * shell guard that stops it when our process disappears, so even a `kill -9` of jetjob leaves no
 * orphaned nats-server behind.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { BackendError } from "../core/errors.js";
import { findNatsServer } from "./find.js";
import { spawnGuarded } from "./guard.js";

export interface NatsServerOptions {
  /** JetStream store directory (created if missing). */
  storeDir: string;
  /** Listen address. @defaultValue "127.0.0.1" */
  host?: string;
  /** Client port; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Monitoring (HTTP) port; 0 picks a free one, -1 disables. @defaultValue 0 */
  monitorPort?: number;
  /** Binary to run. @defaultValue found by {@link findNatsServer} */
  binary?: string;
  /** Largest message accepted. @defaultValue 8 MiB */
  maxPayloadBytes?: number;
  /** JetStream's storage limit (`max_file_store`). @defaultValue nats-server's: 75% of the free disk */
  maxFileStoreBytes?: number;
  /** Server name (shown in monitoring). */
  name?: string;
  /** Extra lines for the generated config file (auth, cluster, TLS...). */
  extraConfig?: string;
  /** Where stdout/stderr go. @defaultValue "ignore" */
  log?: "inherit" | "ignore" | ((line: string) => void);
  /** How long to wait for the server to come up. @defaultValue 15000 */
  startTimeoutMs?: number;
}

export interface RunningNatsServer {
  url: string;
  /** Monitoring base URL, e.g. http://127.0.0.1:8222 (undefined when disabled). */
  monitorUrl: string | undefined;
  pid: number;
  version: string;
  storeDir: string;
  /** Stops the server (SIGINT, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** Kills it hard (fault tests). */
  kill(): void;
  readonly exited: Promise<number | null>;
}

export async function startNatsServer(o: NatsServerOptions): Promise<RunningNatsServer> {
  const found = o.binary ? { path: o.binary, version: "unknown" } : findNatsServer();
  mkdirSync(o.storeDir, { recursive: true });
  const runDir = join(o.storeDir, ".run");
  mkdirSync(runDir, { recursive: true });
  for (const f of readdirSync(runDir)) if (f.endsWith(".ports")) rmSync(join(runDir, f), { force: true });
  const conf = join(runDir, "nats-server.conf");
  const lines = [
    `listen: "${o.host ?? "127.0.0.1"}:${o.port && o.port > 0 ? o.port : -1}"`,
    `max_payload: ${o.maxPayloadBytes ?? 8 * 1024 * 1024}`,
    `jetstream { store_dir: ${JSON.stringify(o.storeDir)}${o.maxFileStoreBytes === undefined ? "" : `, max_file_store: ${Math.floor(o.maxFileStoreBytes)}`} }`,
    `ports_file_dir: ${JSON.stringify(runDir)}`,
  ];
  if (o.name) lines.push(`server_name: ${JSON.stringify(o.name)}`);
  const mon = o.monitorPort ?? 0;
  if (mon >= 0) lines.push(`http: "127.0.0.1:${mon > 0 ? mon : -1}"`);
  if (o.extraConfig) lines.push(o.extraConfig);
  writeFileSync(conf, lines.join("\n") + "\n");

  const child: ChildProcess = spawnGuarded(found.path, ["-c", conf], "INT", {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logLine = o.log;
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      if (logLine === "inherit") process.stderr.write(chunk);
      else if (typeof logLine === "function") for (const l of chunk.split("\n")) if (l) logLine(l);
    });
  }
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));

  const deadline = Date.now() + (o.startTimeoutMs ?? 15_000);
  let ports: { nats?: string[]; monitoring?: string[] } | undefined;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  while (Date.now() < deadline && exitCode === undefined) {
    ports = readPorts(runDir);
    if (ports?.nats?.[0] && (mon < 0 || ports.monitoring?.[0])) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = ports?.nats?.[0];
  if (!url || exitCode !== undefined) {
    child.kill("SIGTERM");
    throw new BackendError(
      exitCode !== undefined
        ? `nats-server exited with code ${exitCode} while starting (config ${conf})`
        : `nats-server did not start within ${o.startTimeoutMs ?? 15_000} ms`,
    );
  }
  const monitorUrl = ports?.monitoring?.[0];
  if (monitorUrl) await waitHealthy(monitorUrl, deadline);

  return {
    url,
    monitorUrl,
    pid: child.pid!,
    version: found.version,
    storeDir: o.storeDir,
    exited,
    async stop(graceMs = 5000) {
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      // Kill the server itself, not just the guard: a hard crash, as in a fault test.
      const pid = readServerPid(runDir);
      if (pid) process.kill(pid, "SIGKILL");
      child.kill("SIGKILL");
    },
  };
}

function readPorts(dir: string): { nats?: string[]; monitoring?: string[] } | undefined {
  try {
    const f = readdirSync(dir).find((n) => n.endsWith(".ports"));
    if (!f) return undefined;
    const text = readFileSync(join(dir, f), "utf8");
    return text ? (JSON.parse(text) as { nats?: string[]; monitoring?: string[] }) : undefined;
  } catch {
    return undefined;
  }
}

function readServerPid(dir: string): number | undefined {
  const f = readdirSync(dir).find((n) => n.endsWith(".ports"));
  const m = f ? /_(\d+)\.ports$/.exec(f) : null;
  return m ? Number(m[1]) : undefined;
}

async function waitHealthy(monitorUrl: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`, {
        signal: AbortSignal.timeout(1000),
      });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new BackendError("nats-server did not report healthy in time");
}
