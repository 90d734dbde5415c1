/**
 * The fleet agent: registers in the worker registry (heartbeat with hostname, labels, facts, version,
 * running jobs), takes targeted jobs sent to its host and runs them with the built-in operations or
 * the user's handlers, writing `acknowledged`, `started` and the result to the job's timeline.
 *
 * Running a job at most once: before it acknowledges, the agent reads the job record (a dispatch with
 * an epoch older than the record's is refused: it comes from a controller that lost the job) and its
 * own last event for the job. A `modify` job the agent already took is never run again, not even after
 * an agent restart; a `query` job runs again only for a newer epoch. The acknowledgement is stored
 * before the handler starts, so that record exists whenever the operation may have run.
 */
import { hostname as osHostname } from "node:os";

import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import { coerceError, ErrorCode, JetjobError, ValidationError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import { stopOnSignals } from "../core/signals.js";
import { createLogger } from "../core/logger.js";
import { normalizeTraceparent, runInTraceContext } from "../core/tracing.js";
import { connectAgentNats } from "./connect.js";
import { inboxPrefixFor } from "../access/permissions.js";
import type { StoreContext } from "../store/infra/context.js";
import type { AgentContext } from "./context.js";
import { agentContextOf, createAgentContext } from "./context.js";
import { fastKv } from "../store/infra/kvfast.js";
import { hostToken } from "../store/infra/topology.js";
import { agentDefaults, fleetLimits } from "../fleet/options.js";
import type { AgentInfo, AgentState } from "../fleet/registry.js";
import { agentKey } from "../fleet/registry.js";
import { appendAgentEvent, appendAgentRefusal, lastHostEvent } from "../fleet/timeline.js";
import type { DispatchRequest, FleetRecord, TimelineEvent } from "../fleet/types.js";
import { gatherFacts } from "./ops/index.js";
import { OperationFailure } from "./ops/types.js";
import { normalizeLabels } from "./labels.js";
import { createJobOutput } from "./output.js";
import type { AgentControl } from "../fleet/workers.js";
import { controlKey, isAgentControl } from "../fleet/workers.js";
import type { AgentJobContext, AgentOptions } from "./types.js";
import type { AgentOp } from "./registry-ops.js";
import { agentOperations } from "./registry-ops.js";

export interface Agent {
  readonly hostname: string;
  /** Changes with every start; shows a restart in the registry and on the timeline. */
  readonly instance: string;
  labels(): Record<string, string>;
  state(): AgentState;
  running(): number;
  /** Stop taking new jobs (running ones finish), as `jetjob worker drain` does. */
  drain(): Promise<void>;
  undrain(): Promise<void>;
  /** Replaces the labels and announces them at once. */
  setLabels(labels: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

const dec = new TextDecoder();
const SEEN_LIMIT = 4096;

export async function createAgent(o: AgentOptions & { storeContext?: StoreContext }): Promise<Agent> {
  const hostname = o.hostname ?? osHostname();
  if (!/^[A-Za-z0-9_.-]{1,253}$/.test(hostname)) {
    throw new ValidationError(`hostname '${hostname}' may only use letters, digits, '.', '_' and '-'`);
  }
  const instance = `agt-${uuidv7()}`;
  const log = (o.logger ?? createLogger()).child({ agent: hostname });
  const timings = { ...agentDefaults, ...o.timings };
  const concurrency = o.concurrency ?? 8;
  let configuredLabels = normalizeLabels(o.labels);
  let labels = configuredLabels;
  const ops: Map<string, AgentOp> = agentOperations(o, hostname);
  const facts = await gatherFacts(o.facts ?? {});

  let nc: NatsConnection;
  let ownConnection = false;
  let ctx: AgentContext;
  if (o.storeContext) {
    ctx = agentContextOf(o.storeContext);
    nc = ctx.nc;
  } else {
    if (typeof o.nats === "string") {
      // Its own reply prefix: with an agent identity it may receive on nothing else.
      const natsOptions = { inboxPrefix: inboxPrefixFor(hostname), ...o.natsOptions };
      nc = await connectAgentNats(o.nats, natsOptions, hostname, log);
      ownConnection = true;
    } else nc = o.nats;
    // Only what the agent's NATS identity may use (access/permissions.ts); servers create the rest.
    ctx = await createAgentContext(nc, o.topology);
  }
  const records = fastKv<FleetRecord>(ctx, ctx.topology.buckets.fleet);
  const tok = hostToken(hostname);
  const startedAt = new Date().toISOString();
  const running = new Map<string, AbortController>();
  const waiting: DispatchRequest[] = [];
  const seen = new Map<string, number>(); // job id → highest epoch taken here
  const inFlight = new Set<Promise<void>>();
  const cancelled = new Set<string>(); // running jobs stopped by a cancel notice
  let drain = false;
  /** Removes the signal handlers (set below when `handleSignals` is on). */
  let unlisten = (): void => undefined;
  let closed = false;

  const state = (): AgentState => (drain ? (running.size > 0 ? "draining" : "cordoned") : "ready");
  const info = (): AgentInfo => ({
    hostname,
    instance,
    labels,
    facts,
    version: o.version ?? "0.1.0",
    pid: process.pid,
    started_at: startedAt,
    heartbeat_ms: timings.heartbeatMs,
    state: state(),
    running: running.size,
    concurrency,
    operations: [...ops.values()].map((x) => ({
      name: x.name,
      kind: x.kind,
      ...(x.description === "" ? {} : { description: x.description }),
      ...(x.argsSchema === undefined ? {} : { args_schema: x.argsSchema }),
    })),
    queues: o.queues ?? [],
  });
  const announce = () => ctx.buckets.agents.put(agentKey(hostname), JSON.stringify(info()));
  let lastState = state();
  const noteState = () => {
    if (state() !== lastState) {
      lastState = state();
      void announce().catch(report);
    }
  };
  function report(err: unknown) {
    if (!closed) log.warn("agent error", { error: err instanceof Error ? err.message : String(err) });
  }

  const event = (e: TimelineEvent["e"], req: DispatchRequest, d?: Record<string, unknown>) => {
    const ev: TimelineEvent & { h: string } = { e, h: hostname, at: Date.now(), ep: req.epoch, by: instance };
    if (d !== undefined) ev.d = d;
    return appendAgentEvent(ctx, req.id, ev);
  };

  async function take(req: DispatchRequest): Promise<void> {
    const [cur, last] = await Promise.all([records.get(`j.${req.id}`), lastHostEvent(ctx, req.id, hostname)]);
    const rec = cur.value;
    if (!rec || rec.status !== "running") return; // deleted, finished or cancelled meanwhile
    if (rec.epoch > req.epoch) {
      await appendAgentRefusal(ctx, req.id, {
        e: "refused",
        h: hostname,
        at: Date.now(),
        ep: req.epoch,
        by: instance,
        d: { reason: "stale_epoch", current_epoch: rec.epoch },
      });
      return;
    }
    if (!rec.hosts.some((x) => x.toLowerCase() === hostname.toLowerCase())) {
      // A pick-one job moved to another host after this one stayed silent: it is not ours any more.
      await appendAgentRefusal(ctx, req.id, {
        e: "refused",
        h: hostname,
        at: Date.now(),
        ep: req.epoch,
        by: instance,
        d: { reason: "moved", hosts: rec.hosts },
      });
      return;
    }
    if (last && (req.kind === "modify" || last.ep >= req.epoch)) return; // taken before (maybe ran)
    const op = ops.get(req.op);
    await Promise.all([event("acknowledged", req), event("started", req, { pid: process.pid })]);
    const abort = new AbortController();
    running.set(req.id, abort);
    noteState();
    const deadlineMs = req.deadline_at - Date.now();
    const timer = setTimeout(
      () => abort.abort(new JetjobError(ErrorCode.Timeout, "the job's deadline passed")),
      Math.max(0, deadlineMs),
    );
    const t0 = performance.now();
    // Output and progress go to the timeline while the job runs, all stored before its result.
    const output = createJobOutput((e, d) => event(e, req, d), report);
    const finishOutput = () => output.close();
    try {
      if (!op) throw new JetjobError(ErrorCode.Unsupported, `this agent does not offer '${req.op}'`);
      const job: AgentJobContext = {
        id: req.id,
        op: req.op,
        args: req.args,
        hostname,
        epoch: req.epoch,
        deadline: new Date(req.deadline_at),
        signal: abort.signal,
        progress: (data) => output.progress(data),
        log: (line, stream = "stdout") => output.line(stream, line),
      };
      const write = (stream: "stdout" | "stderr", chunk: Buffer) => output.write(stream, chunk);
      const traceparent = normalizeTraceparent(req.traceparent);
      let result: unknown;
      if (traceparent === undefined) result = await op.invoke(req.args, job, write);
      else {
        // The handler runs inside a span continuing the trace of the request that created the job.
        job.traceparent = traceparent;
        result = await runInTraceContext(
          traceparent,
          `job ${req.op}`,
          {
            "jetjob.job_id": req.id,
            "jetjob.op": req.op,
            "jetjob.host": hostname,
            "jetjob.epoch": req.epoch,
          },
          () => op.invoke(req.args, job, write),
        );
      }
      const size = Buffer.byteLength(JSON.stringify(result ?? null));
      if (size > fleetLimits.maxResultBytes) {
        throw new JetjobError(
          ErrorCode.PayloadTooLarge,
          `result is ${size} bytes; the limit is ${fleetLimits.maxResultBytes}`,
        );
      }
      await finishOutput();
      await event("completed", req, {
        result: result ?? null,
        duration_ms: Math.round(performance.now() - t0),
      });
    } catch (err) {
      await finishOutput();
      if (cancelled.has(req.id)) {
        await event("cancelled", req, { duration_ms: Math.round(performance.now() - t0) });
        return;
      }
      const duration_ms = Math.round(performance.now() - t0);
      if (err instanceof OperationFailure && !abort.signal.aborted) {
        // It ran and failed: its own code, and what it produced (a command's exit code and output).
        await event("failed", req, {
          error: { code: err.code, message: err.message },
          ...(err.result === undefined ? {} : { result: err.result }),
          duration_ms,
        });
        return;
      }
      const e = coerceError(abort.signal.aborted ? (abort.signal.reason ?? err) : err);
      await event("failed", req, { error: { code: e.code, message: e.message }, duration_ms });
    } finally {
      clearTimeout(timer);
      running.delete(req.id);
      cancelled.delete(req.id);
      noteState();
    }
  }

  function pump(): void {
    while (!closed && waiting.length > 0 && inFlight.size < concurrency) {
      const req = waiting.shift()!;
      const p: Promise<void> = take(req)
        .catch((err: unknown) => {
          // Nothing was stored for it here: let the controller's re-send try again.
          if (!running.has(req.id)) seen.delete(req.id);
          report(err);
        })
        .finally(() => {
          inFlight.delete(p);
          pump();
        });
      inFlight.add(p);
    }
  }

  function onMessage(data: Uint8Array): void {
    let msg: Partial<DispatchRequest> & { cancel?: string };
    try {
      msg = JSON.parse(dec.decode(data)) as typeof msg;
    } catch {
      log.warn("ignored a malformed dispatch message");
      return;
    }
    // `null`, numbers, arrays: a throw here would run inside the NATS client and close the connection.
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      log.warn("ignored a malformed dispatch message");
      return;
    }
    if (typeof msg.cancel === "string") {
      if (running.has(msg.cancel)) cancelled.add(msg.cancel);
      running.get(msg.cancel)?.abort(new JetjobError(ErrorCode.Closed, "the job was cancelled"));
      const i = waiting.findIndex((w) => w.id === msg.cancel);
      if (i >= 0) waiting.splice(i, 1);
      return;
    }
    if (
      typeof msg.id !== "string" ||
      typeof msg.op !== "string" ||
      typeof msg.epoch !== "number" ||
      typeof msg.deadline_at !== "number" ||
      (msg.kind !== "query" && msg.kind !== "modify")
    ) {
      log.warn("ignored a malformed dispatch message");
      return;
    }
    const req = msg as DispatchRequest;
    if ((seen.get(req.id) ?? 0) >= req.epoch) return; // the same dispatch again (a re-send)
    seen.set(req.id, req.epoch);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.keys().next().value!);
    waiting.push(req);
    pump();
  }

  await announce();
  const sub: Subscription = nc.subscribe(ctx.subjects.fleetDispatch(tok), {
    callback: (err, m) => {
      if (!err) onMessage(m.data);
    },
  });
  await nc.flush();
  const beat = setInterval(() => void announce().catch(report), timings.heartbeatMs);

  // Operator control: drain/undrain and labels set through the API, kept across restarts.
  const applyControl = (c: AgentControl | undefined) => {
    drain = c?.drain ?? false;
    labels = c?.labels ?? configuredLabels;
    lastState = state();
    void announce().catch(report);
  };
  const controlWatch = await ctx.buckets.fleet.watch({ key: controlKey(hostname) });
  void (async () => {
    for await (const e of controlWatch) {
      if (e.operation !== "PUT") applyControl(undefined);
      else {
        let c: unknown;
        try {
          c = JSON.parse(dec.decode(e.value));
        } catch {
          c = undefined;
        }
        // A malformed record (`{"drain":"no"}`, labels that are not strings) changes nothing.
        if (isAgentControl(c)) applyControl(c);
        else log.warn("ignored malformed agent control record");
      }
    }
  })().catch(report);

  let queueWorker: { close(): Promise<void> } | undefined;
  if (o.queues && o.queues.length > 0) {
    const { startQueueWorker } = await import("./queue-worker.js");
    queueWorker = await startQueueWorker(nc, o, ops, hostname, log);
  }

  let closing: Promise<void> | undefined;
  const agent: Agent = {
    hostname,
    instance,
    labels: () => labels,
    state,
    running: () => running.size,
    async drain() {
      drain = true;
      await announce();
    },
    async undrain() {
      drain = false;
      await announce();
    },
    async setLabels(next) {
      configuredLabels = normalizeLabels(next);
      labels = configuredLabels;
      await announce();
    },
    close() {
      closing ??= (async () => {
        closed = true;
        unlisten();
        sub.unsubscribe();
        clearInterval(beat);
        controlWatch.stop();
        waiting.length = 0;
        await queueWorker?.close();
        const all = Promise.allSettled([...inFlight]);
        const timer = setTimeout(() => {
          for (const a of running.values())
            a.abort(new JetjobError(ErrorCode.Closed, "the agent is stopping"));
        }, timings.shutdownTimeoutMs);
        await all;
        clearTimeout(timer);
        await ctx.buckets.agents.delete(agentKey(hostname)).catch(() => undefined);
        if (!o.storeContext) ctx.close();
        if (ownConnection) await nc.drain().catch(() => undefined);
      })();
      return closing;
    },
  };
  o.signal?.addEventListener("abort", () => void agent.close(), { once: true });
  if (o.handleSignals !== false) {
    // Like a worker: a SIGTERM (systemd, Kubernetes, docker stop) drains in-flight jobs and leaves.
    unlisten = stopOnSignals(() => void agent.close());
  }
  return agent;
}
