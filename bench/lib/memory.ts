/**
 * Memory figures of the processes under test, from /proc (Linux): the peak resident set (VmHWM) and a
 * sampler of the current one (VmRSS), in MiB.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { RunningNatsServer } from "../../src/natsd/index.js";

/** A `VmXxx` line of /proc/<pid>/status in MiB, or NaN when it cannot be read. */
export function statusMiB(pid: number | "self", field: "VmHWM" | "VmRSS"): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resets this process's peak RSS (VmHWM) so a later reading covers only what follows; returns false
 * where the kernel does not allow it (then only the sampled peak is meaningful).
 */
export function resetOwnPeak(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * The pid of the nats-server process itself. `RunningNatsServer.pid` is the small shell guard that
 * runs it; the server names its ports file `nats-server_<pid>.ports` in `<storeDir>/.run`.
 */
export function natsServerPid(server: RunningNatsServer): number | undefined {
  try {
    for (const f of readdirSync(join(server.storeDir, ".run"))) {
      const m = /_(\d+)\.ports$/.exec(f);
      if (m) return Number(m[1]);
    }
  } catch {
    // no ports file
  }
  return undefined;
}

/** Samples VmRSS of the given processes every `everyMs` and keeps the largest value of each. */
export function rssSampler(pids: Record<string, number | "self">, everyMs = 200) {
  const peak: Record<string, number> = {};
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const v = statusMiB(pid, "VmRSS");
      if (!Number.isNaN(v)) peak[name] = Math.max(peak[name] ?? 0, v);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    peak,
    stop(): Record<string, number> {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
