/**
 * Taking one dispatched fleet job on the agent (agent.ts) and running it at most once: before it
 * acknowledges, the agent reads the job record (a dispatch with an epoch older than the record's is
 * refused: it comes from a controller that lost the job; a pick-one job that moved to another host is
 * refused too) and its own last event for the job. A `modify` job the agent already took is never run
 * again, not even after an agent restart; a `query` job runs again only for a newer epoch. The
 * acknowledgement is stored before the handler starts, so that record exists whenever the operation
 * may have run. Then the operation runs until its deadline or a cancel, its output and progress go to
 * the timeline, and its result or error last.
 */
import { coerceError, ErrorCode, JetjobError } from "../core/errors.js";
import { normalizeTraceparent, runInTraceContext } from "../core/tracing.js";
import { fleetLimits } from "../fleet/options.js";
import { appendAgentRefusal, lastHostEvent } from "../fleet/timeline.js";
import type { DispatchRequest } from "../fleet/types.js";
import { OperationFailure } from "./ops/types.js";
import type { JobOutput } from "./output.js";
import { createJobOutput } from "./output.js";
import type { AgentOp } from "./registry-ops.js";
import type { AgentRuntime } from "./runtime.js";
import { hostEvent, noteState, report } from "./runtime.js";
import type { AgentJobContext } from "./types.js";

/** Takes a dispatched job: checks it is still ours to run, acknowledges it and runs it. */
export async function takeJob(s: AgentRuntime, req: DispatchRequest): Promise<void> {
  if (!(await mayRun(s, req))) return;
  await Promise.all([hostEvent(s, "acknowledged", req), hostEvent(s, "started", req, { pid: process.pid })]);
  await runJob(s, req, s.ops.get(req.op));
}

/**
 * Whether this agent may run the job now: it is still running, the dispatch is of its current epoch
 * (else refused on the timeline), it still names this host (else refused), and this agent did not
 * take it before.
 */
export async function mayRun(s: AgentRuntime, req: DispatchRequest): Promise<boolean> {
  const { ctx, hostname } = s;
  const [cur, last] = await Promise.all([s.records.get(`j.${req.id}`), lastHostEvent(ctx, req.id, hostname)]);
  const rec = cur.value;
  if (!rec || rec.status !== "running") return false; // deleted, finished or cancelled meanwhile
  if (rec.epoch > req.epoch) {
    await refuse(s, req, { reason: "stale_epoch", current_epoch: rec.epoch });
    return false;
  }
  if (!rec.hosts.some((x) => x.toLowerCase() === hostname.toLowerCase())) {
    // A pick-one job moved to another host after this one stayed silent: it is not ours any more.
    await refuse(s, req, { reason: "moved", hosts: rec.hosts });
    return false;
  }
  if (last && (req.kind === "modify" || last.ep >= req.epoch)) return false; // taken before (maybe ran)
  return true;
}

function refuse(s: AgentRuntime, req: DispatchRequest, d: Record<string, unknown>): Promise<unknown> {
  return appendAgentRefusal(s.ctx, req.id, {
    e: "refused",
    h: s.hostname,
    at: Date.now(),
    ep: req.epoch,
    by: s.instance,
    d,
  });
}

/** Runs an acknowledged job until its deadline or a cancel, and writes its outcome. */
export async function runJob(s: AgentRuntime, req: DispatchRequest, op: AgentOp | undefined): Promise<void> {
  const abort = new AbortController();
  s.running.set(req.id, abort);
  noteState(s);
  const deadlineMs = req.deadline_at - Date.now();
  const timer = setTimeout(
    () => abort.abort(new JetjobError(ErrorCode.Timeout, "the job's deadline passed")),
    Math.max(0, deadlineMs),
  );
  const t0 = performance.now();
  // Output and progress go to the timeline while the job runs, all stored before its result.
  const output = createJobOutput(
    (e, d) => hostEvent(s, e, req, d),
    (err) => report(s, err),
  );
  try {
    if (!op) throw new JetjobError(ErrorCode.Unsupported, `this agent does not offer '${req.op}'`);
    const result = await invokeOp(s, req, op, abort.signal, output);
    const size = Buffer.byteLength(JSON.stringify(result ?? null));
    if (size > fleetLimits.maxResultBytes) {
      throw new JetjobError(
        ErrorCode.PayloadTooLarge,
        `result is ${size} bytes; the limit is ${fleetLimits.maxResultBytes}`,
      );
    }
    await output.close();
    await hostEvent(s, "completed", req, {
      result: result ?? null,
      duration_ms: Math.round(performance.now() - t0),
    });
  } catch (err) {
    await output.close();
    await writeFailure(s, req, err, abort.signal, Math.round(performance.now() - t0));
  } finally {
    clearTimeout(timer);
    s.running.delete(req.id);
    s.cancelled.delete(req.id);
    noteState(s);
  }
}

/** Calls the operation's handler, inside a span continuing the request's trace when it has one. */
async function invokeOp(
  s: AgentRuntime,
  req: DispatchRequest,
  op: AgentOp,
  signal: AbortSignal,
  output: JobOutput,
): Promise<unknown> {
  const job: AgentJobContext = {
    id: req.id,
    op: req.op,
    args: req.args,
    hostname: s.hostname,
    epoch: req.epoch,
    deadline: new Date(req.deadline_at),
    signal,
    progress: (data) => output.progress(data),
    log: (line, stream = "stdout") => output.line(stream, line),
  };
  const write = (stream: "stdout" | "stderr", chunk: Buffer) => output.write(stream, chunk);
  const traceparent = normalizeTraceparent(req.traceparent);
  if (traceparent === undefined) return op.invoke(req.args, job, write);
  // The handler runs inside a span continuing the trace of the request that created the job.
  job.traceparent = traceparent;
  return runInTraceContext(
    traceparent,
    `job ${req.op}`,
    {
      "jetjob.job_id": req.id,
      "jetjob.op": req.op,
      "jetjob.host": s.hostname,
      "jetjob.epoch": req.epoch,
    },
    () => op.invoke(req.args, job, write),
  );
}

/**
 * A job that did not complete: `cancelled` when a cancel notice stopped it; `failed` with the
 * operation's own code and output when it ran and failed; else `failed` with why it was stopped
 * (deadline, agent stopping) or the error.
 */
async function writeFailure(
  s: AgentRuntime,
  req: DispatchRequest,
  err: unknown,
  signal: AbortSignal,
  duration_ms: number,
): Promise<void> {
  if (s.cancelled.has(req.id)) {
    await hostEvent(s, "cancelled", req, { duration_ms });
    return;
  }
  if (err instanceof OperationFailure && !signal.aborted) {
    // It ran and failed: its own code, and what it produced (a command's exit code and output).
    await hostEvent(s, "failed", req, {
      error: { code: err.code, message: err.message },
      ...(err.result === undefined ? {} : { result: err.result }),
      duration_ms,
    });
    return;
  }
  const e = coerceError(signal.aborted ? (signal.reason ?? err) : err);
  await hostEvent(s, "failed", req, { error: { code: e.code, message: e.message }, duration_ms });
}
