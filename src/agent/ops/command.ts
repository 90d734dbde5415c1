/**
 * `command.exec`: runs an executable on the host, without a shell, under the agent's allow list, time
 * limit and output cap. Registered only when the agent enables it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";

import { z } from "zod";

import { ErrorCode, JetjobError, NotFoundError, coerceError } from "../../core/errors.js";
import { type Operation, type OperationContext, OperationFailure, defineOperation } from "./types.js";

export interface CommandResult {
  /** `null` when the process was ended by a signal. */
  exit_code: number | null;
  /** The signal that ended the process, e.g. `"SIGTERM"` after a timeout. */
  signal: string | null;
  stdout: string;
  stderr: string;
  duration_ms: number;
  /** Whether stdout or stderr was cut to `maxOutputBytes`. */
  truncated: boolean;
  /** Whether the process was killed because the time limit passed. */
  timed_out: boolean;
}

/** Environment variables passed on from the agent; everything else must be given in `env`. */
export const inheritedEnvKeys = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"] as const;

/** How long a process gets between SIGTERM and SIGKILL. */
const killGraceMs = 2000;
/** How long to wait for stdout/stderr to close after the process exits (grandchildren may hold them). */
const pipeGraceMs = 1000;

const noNul = (s: string): boolean => !s.includes("\0");

const execArgs = z.strictObject({
  command: z.string().min(1).max(4096).refine(noNul, { message: "must not contain NUL" }),
  args: z
    .array(z.string().refine(noNul, { message: "must not contain NUL" }))
    .max(4096)
    .default([]),
  cwd: z.string().min(1).optional(),
  timeout_ms: z.number().int().positive().optional(),
  env: z
    .record(z.string().regex(/^[^=\0]+$/), z.string().refine(noNul, { message: "must not contain NUL" }))
    .optional(),
});

type ExecArgs = z.output<typeof execArgs>;

/**
 * Whether the allow list permits `command`: an entry with a slash must equal the command, an entry
 * without one must equal its basename. An empty or absent list permits everything.
 */
export function isCommandAllowed(command: string, allow: readonly string[] | undefined): boolean {
  if (allow === undefined || allow.length === 0) return true;
  const name = basename(command);
  return allow.some((entry) => (entry.includes("/") ? entry === command : entry === name));
}

/** Keeps the first `max` bytes of a stream. */
class Capture {
  readonly #max: number;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  truncated = false;

  constructor(max: number) {
    this.#max = max;
  }

  push = (chunk: Buffer): void => {
    const room = this.#max - this.#size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(part);
    this.#size += part.length;
  };

  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8");
  }
}

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of inheritedEnvKeys) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs the command and returns its result. A non-zero exit, a signal or the time limit is a failure
 * of the operation ({@link OperationFailure} with the same result: exit code, signal, output), so the
 * host is `failed` and `jetjob job run command.exec … && next` stops there.
 */
export async function execCommand(args: ExecArgs, ctx: OperationContext): Promise<CommandResult> {
  const cfg = ctx.config.commandExec;
  if (!isCommandAllowed(args.command, cfg.allow)) {
    throw new JetjobError(ErrorCode.Forbidden, `Command '${args.command}' is not allowed on this agent.`, {
      details: { command: args.command, allow: cfg.allow },
      hint: "Add the executable to the agent's command allow list.",
    });
  }
  if (args.cwd !== undefined) {
    const st = await stat(args.cwd).catch(() => undefined);
    if (!st?.isDirectory()) throw new NotFoundError("directory", args.cwd);
  }
  const timeoutMs = Math.min(args.timeout_ms ?? cfg.timeoutMs, cfg.timeoutMs);
  const started = performance.now();

  return new Promise<CommandResult>((resolve, reject) => {
    const stdout = new Capture(cfg.maxOutputBytes);
    const stderr = new Capture(cfg.maxOutputBytes);
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let pipeTimer: NodeJS.Timeout | undefined;

    // detached: the command gets its own process group, so a timeout kills its children too.
    const child: ChildProcess = spawn(args.command, args.args, {
      ...(args.cwd !== undefined && { cwd: args.cwd }),
      env: childEnv(args.env),
      stdio: ["ignore", "pipe", "pipe"],
      shell: false,
      detached: true,
    });
    child.stdout?.on("data", stdout.push);
    child.stderr?.on("data", stderr.push);
    if (ctx.output) {
      const output = ctx.output;
      child.stdout?.on("data", (chunk: Buffer) => output("stdout", chunk));
      child.stderr?.on("data", (chunk: Buffer) => output("stderr", chunk));
    }

    const kill = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        child.kill(sig); // the group is gone or was never created
      }
    };
    const terminate = (): void => {
      kill("SIGTERM");
      killTimer ??= setTimeout(() => kill("SIGKILL"), killGraceMs);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      terminate();
    }, timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      terminate();
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx.signal.aborted) onAbort(); // aborted while we checked cwd

    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(pipeTimer);
      ctx.signal.removeEventListener("abort", onAbort);
      return true;
    };

    child.on("error", (err: NodeJS.ErrnoException) => {
      if (!finish()) return;
      reject(
        err.code === "ENOENT" ? new NotFoundError("command", args.command, { cause: err }) : coerceError(err),
      );
    });
    child.on("exit", () => {
      pipeTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, pipeGraceMs);
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      if (!finish()) return;
      if (aborted) {
        reject(
          new JetjobError(ErrorCode.Closed, "'command.exec' was aborted.", { cause: ctx.signal.reason }),
        );
        return;
      }
      const result: CommandResult = {
        exit_code: code,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        duration_ms: Math.round(performance.now() - started),
        truncated: stdout.truncated || stderr.truncated,
        timed_out: timedOut,
      };
      if (code === 0 && !timedOut) {
        resolve(result);
        return;
      }
      reject(commandFailure(args.command, result, timeoutMs));
    });
  });
}

/** Output kept in a failure's result, per stream (the end of it, where errors usually are). */
const FAILURE_OUTPUT_BYTES = 64 * 1024;

function tail(text: string): { text: string; cut: boolean } {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= FAILURE_OUTPUT_BYTES) return { text, cut: false };
  return { text: buf.subarray(buf.length - FAILURE_OUTPUT_BYTES).toString("utf8"), cut: true };
}

function commandFailure(command: string, r: CommandResult, timeoutMs: number): OperationFailure {
  const out = tail(r.stdout);
  const err = tail(r.stderr);
  const result: CommandResult = {
    ...r,
    stdout: out.text,
    stderr: err.text,
    truncated: r.truncated || out.cut || err.cut,
  };
  const lastLine = err.text.trim().split("\n").pop();
  const why = r.timed_out
    ? `timed out after ${timeoutMs} ms and was ended with ${r.signal ?? "SIGTERM"}`
    : r.signal !== null
      ? `was killed by ${r.signal}`
      : `exited with code ${r.exit_code}`;
  return new OperationFailure(
    r.timed_out ? "command_timeout" : r.signal !== null ? "command_killed" : "command_failed",
    `'${command}' ${why}${lastLine ? `: ${lastLine.slice(0, 200)}` : ""}`,
    result,
  );
}

/** The `command.*` operations. */
export function commandOperations(): Operation[] {
  return [
    defineOperation({
      name: "command.exec",
      kind: "modify",
      description: "Runs an executable without a shell; returns exit code, signal, stdout and stderr.",
      args: execArgs,
      run: execCommand,
    }),
  ];
}
