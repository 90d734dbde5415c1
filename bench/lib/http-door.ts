/**
 * The OJS HTTP door under load: a nats-server of its own on a temp store, a jetjob API server in a
 * child process (http-door-server.ts), and a Node load generator in this process that speaks the OJS
 * HTTP binding over keep-alive connections (`node:http` with an `Agent({ keepAlive: true })`, so no
 * request pays for a TCP handshake), with a write token as any OJS client sends.
 */
import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";

export interface HttpDoor {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  nats: RunningNatsServer;
  /** POST of a JSON body; resolves with the parsed reply, rejects on a non-2xx status. */
  post<T = unknown>(path: string, body: unknown): Promise<T>;
  /** GET; resolves with the parsed reply, rejects on a non-2xx status. */
  get<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

const serverEntry = fileURLToPath(new URL("./http-door-server.ts", import.meta.url));

export async function openHttpDoor(): Promise<HttpDoor> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-http-"));
  const nats = await startNatsServer({ storeDir: dir, monitorPort: -1 });
  const token = randomBytes(24).toString("base64url");
  let child: ChildProcess | undefined;
  try {
    child = fork(serverEntry, [], {
      // tsx resolved from here, so that the child runs whatever the working directory is.
      // JETJOB_BENCH_DOOR_NODE_ARGS adds node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
      execArgv: [
        "--import",
        import.meta.resolve("tsx"),
        ...(process.env.JETJOB_BENCH_DOOR_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      ],
      env: { ...process.env, JETJOB_BENCH_NATS: nats.url, JETJOB_BENCH_TOKEN: token },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const url = await listening(child);
    const { hostname, port } = new URL(url);
    // One socket per request in flight at most; kept open between requests.
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
    const running = child;
    return {
      url,
      nats,
      post: <T>(path: string, body: unknown) =>
        call<T>(agent, hostname, Number(port), "POST", path, headers, body),
      get: <T>(path: string) => call<T>(agent, hostname, Number(port), "GET", path, headers, undefined),
      async close() {
        agent.destroy();
        await stopChild(running);
        await nats.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child) await stopChild(child);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the API server did not start within 60 s")), 60_000);
    child.once("message", (m: { url?: string }) => {
      clearTimeout(timer);
      if (typeof m.url === "string") resolve(m.url);
      else reject(new Error("the API server sent no URL"));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the API server exited with ${code} before listening`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  if (child.connected) child.send("stop");
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function call<T>(
  agent: Agent,
  host: string,
  port: number,
  method: "GET" | "POST",
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<T> {
  const data = body === undefined ? "" : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        method,
        agent,
        headers:
          body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(data)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new Error(`${method} ${path}: HTTP ${status}: ${text.slice(0, 300)}`));
            return;
          }
          try {
            resolve((text ? JSON.parse(text) : undefined) as T);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on("error", reject);
    if (body === undefined) req.end();
    else req.end(data);
  });
}
