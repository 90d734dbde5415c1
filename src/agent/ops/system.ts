/**
 * `system.*` operations: read-only views of the host (hostname, OS, uptime, load, memory, disks).
 */

import { readFile, statfs } from "node:fs/promises";
import os from "node:os";

import { z } from "zod";

import { NotFoundError, coerceError } from "../../core/errors.js";
import { cpuCount, nonEmpty, readOsRelease } from "./facts.js";
import { type Operation, type OperationContext, defineOperation, noArgs, percent } from "./types.js";

export interface OsInfo {
  name: string;
  version: string;
  id: string;
  pretty_name: string;
  kernel: string;
  arch: string;
  platform: string;
}

export interface UptimeInfo {
  uptime_s: number;
  /** ISO 8601, second precision. */
  boot_time: string;
}

export interface LoadInfo {
  load1: number;
  load5: number;
  load15: number;
  cpus: number;
}

export interface MemoryInfo {
  total_bytes: number;
  free_bytes: number;
  /** Memory available for new work without swapping (`MemAvailable`), else free. */
  available_bytes: number;
  /** `total - available`. */
  used_bytes: number;
  used_percent: number;
  swap_total_bytes: number;
  swap_free_bytes: number;
}

export interface DiskUsage {
  path: string;
  total_bytes: number;
  /** Bytes available to unprivileged users (like `df`'s "Avail"). */
  free_bytes: number;
  used_bytes: number;
  /** `used / (used + free)`, as `df` computes it. */
  used_percent: number;
}

export interface SystemStatus {
  hostname: string;
  os: OsInfo;
  uptime_s: number;
  load: LoadInfo;
  memory: MemoryInfo;
  disks: DiskUsage[];
}

export async function getOsInfo(): Promise<OsInfo> {
  const rel = await readOsRelease();
  return {
    name: nonEmpty(rel.NAME) ?? os.type(),
    version: nonEmpty(rel.VERSION_ID) ?? nonEmpty(rel.VERSION) ?? os.release(),
    id: nonEmpty(rel.ID) ?? os.platform(),
    pretty_name: nonEmpty(rel.PRETTY_NAME) ?? `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: os.arch(),
    platform: os.platform(),
  };
}

export function getUptime(): UptimeInfo {
  const uptimeS = Math.floor(os.uptime());
  const boot = new Date(Math.floor(Date.now() / 1000 - uptimeS) * 1000);
  return { uptime_s: uptimeS, boot_time: boot.toISOString() };
}

export function getLoad(): LoadInfo {
  const [load1 = 0, load5 = 0, load15 = 0] = os.loadavg();
  return { load1, load5, load15, cpus: cpuCount() };
}

/** Parses /proc/meminfo into bytes per key (`kB` values are multiplied by 1024). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([\w()]+):\s+(\d+)(?:\s+(kB))?\s*$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    out[m[1]] = Number(m[2]) * (m[3] === "kB" ? 1024 : 1);
  }
  return out;
}

export async function getMemory(meminfoPath = "/proc/meminfo"): Promise<MemoryInfo> {
  let info: Record<string, number> = {};
  try {
    info = parseMeminfo(await readFile(meminfoPath, "utf8"));
  } catch {
    // Not Linux (or /proc not mounted): fall back to node:os below.
  }
  const total = info.MemTotal ?? os.totalmem();
  const free = info.MemFree ?? os.freemem();
  const available = info.MemAvailable ?? free;
  const used = Math.max(0, total - available);
  return {
    total_bytes: total,
    free_bytes: free,
    available_bytes: available,
    used_bytes: used,
    used_percent: percent(used, total),
    swap_total_bytes: info.SwapTotal ?? 0,
    swap_free_bytes: info.SwapFree ?? 0,
  };
}

/** Disk usage of the file system holding `path`. @throws {NotFoundError} if the path does not exist. */
export async function getDiskUsage(path: string): Promise<DiskUsage> {
  let st;
  try {
    st = await statfs(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new NotFoundError("path", path, { cause: err });
    throw coerceError(err);
  }
  const total = st.blocks * st.bsize;
  const free = st.bavail * st.bsize;
  const used = (st.blocks - st.bfree) * st.bsize;
  return {
    path,
    total_bytes: total,
    free_bytes: free,
    used_bytes: used,
    used_percent: percent(used, used + free),
  };
}

function configuredDiskPaths(ctx: OperationContext): string[] {
  const paths = ctx.config.diskPaths;
  return paths !== undefined && paths.length > 0 ? paths : ["/"];
}

const diskArgs = z.strictObject({
  paths: z.array(z.string().min(1).max(4096)).min(1).max(64).optional(),
});

/** The `system.*` operations. */
export function systemOperations(): Operation[] {
  return [
    defineOperation({
      name: "system.hostname.get",
      kind: "query",
      description: "The agent's hostname and the OS hostname.",
      args: noArgs,
      run: (_args, ctx) => Promise.resolve({ hostname: ctx.hostname, os_hostname: os.hostname() }),
    }),
    defineOperation({
      name: "system.status.get",
      kind: "query",
      description: "A summary: hostname, OS, uptime, load averages, memory and disks.",
      args: noArgs,
      run: async (_args, ctx): Promise<SystemStatus> => {
        const [osInfo, memory, disks] = await Promise.all([
          getOsInfo(),
          getMemory(),
          Promise.all(configuredDiskPaths(ctx).map((p) => getDiskUsage(p))),
        ]);
        return {
          hostname: ctx.hostname,
          os: osInfo,
          uptime_s: getUptime().uptime_s,
          load: getLoad(),
          memory,
          disks,
        };
      },
    }),
    defineOperation({
      name: "system.uptime.get",
      kind: "query",
      description: "Seconds since boot and the boot time.",
      args: noArgs,
      run: () => Promise.resolve(getUptime()),
    }),
    defineOperation({
      name: "system.os.get",
      kind: "query",
      description: "OS name, version and id (from os-release), kernel, architecture and platform.",
      args: noArgs,
      run: () => getOsInfo(),
    }),
    defineOperation({
      name: "system.disk.get",
      kind: "query",
      description: "Total, free and used bytes of the configured (or given) paths' file systems.",
      args: diskArgs,
      run: (args, ctx) => Promise.all((args.paths ?? configuredDiskPaths(ctx)).map((p) => getDiskUsage(p))),
    }),
    defineOperation({
      name: "system.memory.get",
      kind: "query",
      description: "Memory and swap usage in bytes.",
      args: noArgs,
      run: () => getMemory(),
    }),
    defineOperation({
      name: "system.load.get",
      kind: "query",
      description: "1, 5 and 15 minute load averages and the CPU count.",
      args: noArgs,
      run: () => Promise.resolve(getLoad()),
    }),
  ];
}
