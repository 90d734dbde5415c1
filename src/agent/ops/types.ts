/**
 * The contract of the fleet agent's built-in operations: what an operation is, the context it runs in,
 * the agent configuration it reads, and {@link runOperation}, the one place where raw arguments from
 * the wire are normalised and validated before an operation runs.
 */

import { z } from "zod";

import { ErrorCode, JetjobError, ValidationError } from "../../core/errors.js";
import { normalizeArgs } from "../../fleet/args.js";

/**
 * `query` operations only read the host and are safe to redeliver; `modify` operations change the
 * host and must never be silently re-run.
 */
export type OperationKind = "query" | "modify";

/** Settings of `command.exec`. */
export interface CommandExecConfig {
  /** Whether `command.exec` is registered at all. */
  enabled: boolean;
  /**
   * Allowed executables. An entry without a slash matches the command's basename, an entry with a
   * slash matches the command exactly. Empty or absent means any command (when enabled).
   */
  allow?: string[];
  /** Upper bound of a command's run time; a smaller per-call `timeout_ms` wins. */
  timeoutMs: number;
  /** stdout and stderr are each cut to this many bytes. */
  maxOutputBytes: number;
}

/** Paths and settings the agent's operations are configured with. */
export interface AgentOpsConfig {
  commandExec: CommandExecConfig;
  /** The resolver configuration read by `network.dns.get` and rewritten by `network.dns.update`. */
  resolvConfPath: string;
  /** Mount points reported by `system.disk.get` and `system.status.get`. Defaults to `["/"]`. */
  diskPaths?: string[];
}

/** `command.exec` off, `/etc/resolv.conf`, disk `/`. */
export const defaultAgentOpsConfig: AgentOpsConfig = {
  commandExec: { enabled: false, timeoutMs: 60_000, maxOutputBytes: 1024 * 1024 },
  resolvConfPath: "/etc/resolv.conf",
  diskPaths: ["/"],
};

/** What an operation gets besides its arguments. */
export interface OperationContext {
  /** Aborted when the job is cancelled or the agent shuts down. */
  signal: AbortSignal;
  /** The agent's fleet hostname (may differ from the OS hostname). */
  hostname: string;
  /** Paths and settings the agent is configured with. */
  config: AgentOpsConfig;
  /** Streams a process's output while it runs (stored as `output` timeline events, bounded). */
  output?: (stream: "stdout" | "stderr", chunk: Buffer) => void;
}

/** One built-in operation. `args` validates and types the arguments that `run` receives. */
export interface Operation<A = unknown, R = unknown> {
  name: string;
  kind: OperationKind;
  description: string;
  args: z.ZodType<A>;
  run(args: A, ctx: OperationContext): Promise<R>;
}

/** Declares an operation, inferring `run`'s argument type from the schema. */
/**
 * An operation that ran and failed on the host: the host's state is `failed`, with `code` and the
 * message as its error and `result` (e.g. a command's exit code and output) kept beside it.
 */
export class OperationFailure extends Error {
  override name = "OperationFailure";
  constructor(
    readonly code: string,
    message: string,
    readonly result?: unknown,
  ) {
    super(message);
  }
}

export function defineOperation<A, R>(op: Operation<A, R>): Operation<A, R> {
  return op;
}

/** Arguments schema of operations that take none. Unknown keys are rejected to surface typos. */
export const noArgs = z.strictObject({});

/**
 * Validates `rawArgs` against the operation's schema and runs it. Arguments may arrive as an object,
 * as a one-element array `[obj]` (OJS style), or not at all (treated as `{}`).
 *
 * @throws {ValidationError} `invalid_request` with the zod issues in `details.issues`.
 * @throws {JetjobError} `closed` if `ctx.signal` is already aborted.
 */
export async function runOperation<A, R>(
  op: Operation<A, R>,
  rawArgs: unknown,
  ctx: OperationContext,
): Promise<R> {
  const parsed = op.args.safeParse(normalizeArgs(rawArgs));
  if (!parsed.success) {
    throw new ValidationError(`Invalid arguments for '${op.name}': ${z.prettifyError(parsed.error)}`, {
      details: { operation: op.name, issues: parsed.error.issues },
    });
  }
  throwIfAborted(ctx.signal, op.name);
  return op.run(parsed.data, ctx);
}

/** Throws `closed` when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal, what: string): void {
  if (signal.aborted) {
    throw new JetjobError(ErrorCode.Closed, `'${what}' was aborted.`, { cause: signal.reason });
  }
}

/** `part / whole` in percent, rounded to 2 decimals; 0 when `whole` is 0. */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 100 : 0;
}
