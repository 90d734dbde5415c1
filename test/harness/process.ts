/**
 * Test processes: runs a TypeScript fixture in its own Node process (so a test can SIGKILL it) and
 * collects its stdout lines; `line()` waits for a matching line. Every process is killed after the
 * test file if the test did not stop it.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { after } from "node:test";

import { waitFor } from "./nats.js";

export interface FixtureProcess {
  child: ChildProcess;
  lines: string[];
  /** Waits for a line that matches and returns it. */
  line(match: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill("SIGKILL");
});

export function spawnFixture(script: string, args: string[]): FixtureProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const lines: string[] = [];
  let buf = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  void exited.then(() => running.delete(child));
  return {
    child,
    lines,
    async line(match, timeoutMs = 20_000) {
      return waitFor(
        () => {
          if (child.exitCode !== null && !lines.some((l) => match.test(l))) {
            throw new Error(`fixture exited with ${child.exitCode}: ${err.slice(-2000)}`);
          }
          return lines.find((l) => match.test(l));
        },
        { timeoutMs, what: `a line matching ${match} from ${script}` },
      );
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
