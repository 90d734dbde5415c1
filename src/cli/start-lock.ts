/**
 * One `jetjob start` per data dir, and a clear word when its ports are taken.
 *
 * Two starts on one data dir would run two nats-servers on one store (which corrupts it), register
 * a second local agent and remove each other's endpoints.json. The first start holds
 * `<data dir>/jetjob.pid` (created exclusively); a second one is refused with the pid and address of
 * the first. A pid file left by a start that was killed is taken over when that process is gone.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

import { ErrorCode, JetjobError } from "../core/errors.js";
import { readEndpoints } from "./endpoints.js";

export interface StartLock {
  release(): void;
}

/** A process's start time in clock ticks since boot (Linux), to tell a reused pid from the original. */
function startTime(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): the 20th of them is the start time.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number, started: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  const now = startTime(pid);
  return started === undefined || now === undefined || now === started;
}

export function lockDataDir(dataDir: string): StartLock {
  const path = join(dataDir, "jetjob.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid} ${startTime("self") ?? ""}\n`, { flag: "wx", mode: 0o600 });
      return { release: () => rmSync(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const [pidText, started] = readFileSync(path, "utf8").trim().split(" ");
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid, started || undefined)) {
      const api = readEndpoints(dataDir)?.api;
      throw new JetjobError(
        ErrorCode.Conflict,
        `jetjob start is already running on ${dataDir} (pid ${pid}${api ? `, API ${api}` : ""})`,
        {
          hint: "Use that one (the CLI finds it through the data dir), stop it first, or give this one its own --data-dir.",
          details: { pid, data_dir: dataDir },
        },
      );
    }
    rmSync(path, { force: true }); // left by a start that is gone
  }
  throw new JetjobError(ErrorCode.Conflict, `cannot take ${path}`);
}

/** Refuses a port that is taken, naming it and the flag that changes it (0 = any free port). */
export async function checkPortFree(host: string, port: number, flag: string, what: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE" || err.code === "EACCES") {
        reject(
          new JetjobError(
            ErrorCode.Conflict,
            `the ${what} port ${host}:${port} is ${err.code === "EACCES" ? "not allowed" : "in use"} (another jetjob or nats-server?)`,
            {
              hint: `Pick another with ${flag} <port> (${flag} 0 picks a free one).`,
              details: { port, host },
            },
          ),
        );
      } else reject(err);
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}
