/**
 * `network.*` operations: the resolver configuration (read and atomic rewrite) and reachability checks.
 */

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import {
  constants,
  type FileHandle,
  access,
  open,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { isIP } from "node:net";
import { basename, dirname, join } from "node:path";

import { z } from "zod";

import { ErrorCode, JetjobError } from "../../core/errors.js";
import { type Operation, defineOperation, noArgs, throwIfAborted } from "./types.js";

// ---------------------------------------------------------------------------------------------------
// resolv.conf

export interface ResolvConf {
  nameservers: string[];
  /** The search list (`search`, or the obsolete `domain`; the last such line wins). */
  search: string[];
  /** Every `options` token, e.g. `["ndots:2", "timeout:1"]`. */
  options: string[];
}

export interface DnsUpdateResult {
  /** Whether the name servers or search list differed (the file is not rewritten otherwise). */
  changed: boolean;
  previous: ResolvConf;
  current: ResolvConf;
}

export interface ResolvConfUpdate {
  nameservers: string[];
  /** Replaces the search list; `[]` removes it; `undefined` keeps the existing `search`/`domain` lines. */
  search?: string[] | undefined;
}

function tokens(line: string): string[] {
  const out: string[] = [];
  for (const t of line.trim().split(/\s+/)) {
    if (t === "" || t.startsWith("#") || t.startsWith(";")) break;
    out.push(t);
  }
  return out;
}

/** Parses resolv.conf(5) text. Comments (`#`, `;`) and unknown keywords are ignored. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const line of text.split("\n")) {
    const [keyword, ...rest] = tokens(line);
    if (keyword === "nameserver" && rest[0] !== undefined) conf.nameservers.push(rest[0]);
    else if (keyword === "search") conf.search = rest;
    else if (keyword === "domain") conf.search = rest.slice(0, 1);
    else if (keyword === "options") conf.options.push(...rest);
  }
  return conf;
}

/**
 * Rewrites resolv.conf text: the new `nameserver` lines replace the old ones at the position of the
 * first; with `update.search` set, one `search` line replaces the `search`/`domain` lines. Every other
 * line (comments, `options`, `sortlist`, …) is kept as it was.
 */
export function renderResolvConf(original: string, update: ResolvConfUpdate): string {
  const lines = original === "" ? [] : original.replace(/\n$/, "").split("\n");
  const nsLines = update.nameservers.map((ns) => `nameserver ${ns}`);
  const searchLines = update.search?.length ? [`search ${update.search.join(" ")}`] : [];
  const replaceSearch = update.search !== undefined;
  const hasSearch = lines.some((l) => ["search", "domain"].includes(tokens(l)[0] ?? ""));
  const out: string[] = [];
  let nsDone = false;
  let searchDone = !replaceSearch;
  for (const line of lines) {
    const keyword = tokens(line)[0];
    if (keyword === "nameserver") {
      if (!nsDone) {
        if (!searchDone && !hasSearch) out.push(...searchLines);
        searchDone ||= !hasSearch;
        out.push(...nsLines);
        nsDone = true;
      }
    } else if (replaceSearch && (keyword === "search" || keyword === "domain")) {
      if (!searchDone) out.push(...searchLines);
      searchDone = true;
    } else {
      out.push(line);
    }
  }
  if (!searchDone) out.push(...searchLines);
  if (!nsDone) out.push(...nsLines);
  return out.join("\n") + "\n";
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function readTextOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

/**
 * Replaces a file's content atomically: writes a temp file in the same directory (same mode, owner
 * best-effort), fsyncs it and renames it over the target. A symlinked target is followed, so the link
 * survives. Where rename is impossible (a bind-mounted file, as in containers) the file is overwritten.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const target = await realpath(path).catch(() => path);
  const st = await stat(target).catch(() => undefined);
  const tmp = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
  );
  let fh: FileHandle | undefined = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(text, "utf8");
    await fh.chmod(st ? st.mode & 0o7777 : 0o644);
    // Keep the original owner if we may (we usually run as root); otherwise the file is ours.
    if (st) await fh.chown(st.uid, st.gid).catch(() => undefined);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EBUSY" && code !== "EXDEV") throw err;
    await writeFile(target, text, "utf8");
  }
}

const ipAddress = z.string().refine((s) => isIP(s) !== 0, { message: "must be an IPv4 or IPv6 address" });
const domainName = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/, {
    message: "must be a domain name",
  });

const dnsUpdateArgs = z.strictObject({
  nameservers: z.array(ipAddress).min(1).max(3),
  search: z.array(domainName).max(32).optional(),
});

// ---------------------------------------------------------------------------------------------------
// ping

export interface PingStats {
  transmitted: number;
  received: number;
  loss_percent: number;
  rtt_ms?: { min: number; avg: number; max: number };
  address?: string;
}

export interface PingResult extends PingStats {
  host: string;
  method: "icmp" | "dns";
  reachable: boolean;
  /** Why a DNS check failed (e.g. `ENOTFOUND`). */
  error?: string;
}

/** Parses the summary of iputils or busybox `ping`; `undefined` when there is none. */
export function parsePingOutput(text: string): PingStats | undefined {
  const summary = /(\d+) packets transmitted, (\d+) (?:packets )?received,.*?([\d.]+)% packet loss/.exec(
    text,
  );
  if (!summary) return undefined;
  const stats: PingStats = {
    transmitted: Number(summary[1]),
    received: Number(summary[2]),
    loss_percent: Number(summary[3]),
  };
  const rtt = /(?:rtt|round-trip) min\/avg\/max(?:\/\w+)? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(text);
  if (rtt) stats.rtt_ms = { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) };
  const address = /^PING \S+ \(([^)\s]+)\)/m.exec(text)?.[1];
  if (address !== undefined) stats.address = address;
  return stats;
}

/** The full path of an executable on PATH (or the usual system dirs), or `undefined`. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/bin", "/usr/sbin", "/sbin"];
  for (const dir of new Set(dirs.filter((d) => d !== ""))) {
    const candidate = join(dir, name);
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

function execFileOutput(
  file: string,
  args: string[],
  opts: { signal: AbortSignal; timeout: number },
): Promise<string> {
  // A non-zero exit (no reply, unknown host) still has a useful stdout, so never reject.
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, encoding: "utf8", killSignal: "SIGKILL" }, (_err, stdout) =>
      resolve(stdout),
    );
  });
}

async function dnsCheck(host: string, timeoutMs: number, signal: AbortSignal): Promise<PingResult> {
  const base = { host, method: "dns" as const, transmitted: 1 };
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error("lookup timed out"), { code: "ETIMEOUT" })),
      timeoutMs,
    );
    onAbort = () =>
      reject(new JetjobError(ErrorCode.Closed, "'network.ping' was aborted.", { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const { address } = await Promise.race([lookup(host), deadline]);
    return { ...base, address, received: 1, loss_percent: 0, reachable: true };
  } catch (err) {
    if (err instanceof JetjobError) throw err;
    const error = (err as NodeJS.ErrnoException).code ?? String(err);
    return { ...base, received: 0, loss_percent: 100, reachable: false, error };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

const pingArgs = z.strictObject({
  host: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[A-Za-z0-9_.:%][A-Za-z0-9_.:%-]*$/, { message: "must be a host name or IP address" }),
  count: z.number().int().min(1).max(10).default(3),
  /** How long to wait for each reply (ICMP) or for the lookup (DNS). */
  timeout_ms: z.number().int().min(100).max(60_000).optional(),
});

// ---------------------------------------------------------------------------------------------------

/** The `network.*` operations. */
export function networkOperations(): Operation[] {
  return [
    defineOperation({
      name: "network.dns.get",
      kind: "query",
      description: "Name servers, search list and options from the resolver configuration.",
      args: noArgs,
      run: async (_args, ctx) => parseResolvConf(await readTextOrEmpty(ctx.config.resolvConfPath)),
    }),
    defineOperation({
      name: "network.dns.update",
      kind: "modify",
      description: "Sets the name servers (and optionally the search list), keeping all other lines.",
      args: dnsUpdateArgs,
      run: async (args, ctx): Promise<DnsUpdateResult> => {
        const path = ctx.config.resolvConfPath;
        const original = await readTextOrEmpty(path);
        const previous = parseResolvConf(original);
        const changed =
          !sameList(previous.nameservers, args.nameservers) ||
          (args.search !== undefined && !sameList(previous.search, args.search));
        if (!changed) return { changed, previous, current: previous };
        const text = renderResolvConf(original, { nameservers: args.nameservers, search: args.search });
        throwIfAborted(ctx.signal, "network.dns.update");
        await writeFileAtomic(path, text);
        return { changed, previous, current: parseResolvConf(text) };
      },
    }),
    defineOperation({
      name: "network.ping",
      kind: "query",
      description: "ICMP ping via the `ping` binary, or a DNS resolution check where there is none.",
      args: pingArgs,
      run: async (args, ctx): Promise<PingResult> => {
        const waitMs = args.timeout_ms ?? 1000;
        const bin = await findExecutable("ping");
        if (bin !== undefined) {
          const secs = Math.max(1, Math.ceil(waitMs / 1000));
          const cmdArgs = ["-c", String(args.count), "-W", String(secs), args.host];
          const timeout = (args.count + secs) * 1000 + 5000;
          const stdout = await execFileOutput(bin, cmdArgs, { signal: ctx.signal, timeout });
          throwIfAborted(ctx.signal, "network.ping");
          const stats = parsePingOutput(stdout);
          if (stats) return { host: args.host, method: "icmp", ...stats, reachable: stats.received > 0 };
          // No summary: no permission for raw sockets, unknown host, … — try DNS instead.
        }
        return dnsCheck(args.host, waitMs, ctx.signal);
      },
    }),
  ];
}
