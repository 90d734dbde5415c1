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
 *
 * Parts: the agent's state and registry entry (runtime.ts), the dispatch subject (dispatch.ts),
 * taking and running a job (take-job.ts); here starting and stopping the agent.
 */
import { hostname as osHostname } from "node:os";

import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import { ErrorCode, JetjobError, ValidationError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { createLogger } from "../core/logger.js";
import { stopOnSignals } from "../core/signals.js";
import { inboxPrefixFor } from "../access/permissions.js";
import type { StoreContext } from "../store/infra/context.js";
import { fastKv } from "../store/infra/kvfast.js";
import { hostToken } from "../store/infra/topology.js";
import { agentDefaults } from "../fleet/options.js";
import type { AgentState } from "../fleet/registry.js";
import { agentKey } from "../fleet/registry.js";
import type { FleetRecord } from "../fleet/types.js";
import type { AgentControl } from "../fleet/workers.js";
import { controlKey, isAgentControl } from "../fleet/workers.js";
import { connectAgentNats } from "./connect.js";
import type { AgentContext } from "./context.js";
import { agentContextOf, createAgentContext } from "./context.js";
import { onDispatchMessage } from "./dispatch.js";
import { normalizeLabels } from "./labels.js";
import { gatherFacts } from "./ops/index.js";
import type { AgentOp } from "./registry-ops.js";
import { agentOperations } from "./registry-ops.js";
import type { AgentRuntime } from "./runtime.js";
import { agentState, announce, report } from "./runtime.js";
import type { AgentOptions } from "./types.js";

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

export async function createAgent(o: AgentOptions & { storeContext?: StoreContext }): Promise<Agent> {
  const hostname = o.hostname ?? osHostname();
  if (!/^[A-Za-z0-9_.-]{1,253}$/.test(hostname)) {
    throw new ValidationError(`hostname '${hostname}' may only use letters, digits, '.', '_' and '-'`);
  }
  const log = (o.logger ?? createLogger()).child({ agent: hostname });
  const ops: Map<string, AgentOp> = agentOperations(o, hostname);
  const facts = await gatherFacts(o.facts ?? {});
  const { nc, ctx, ownConnection } = await openAgentContext(o, hostname, log);
  const labels = normalizeLabels(o.labels);
  const s: AgentRuntime = {
    o,
    hostname,
    instance: `agt-${uuidv7()}`,
    log,
    timings: { ...agentDefaults, ...o.timings },
    concurrency: o.concurrency ?? 8,
    ctx,
    records: fastKv<FleetRecord>(ctx, ctx.topology.buckets.fleet),
    ops,
    facts,
    startedAt: new Date().toISOString(),
    configuredLabels: labels,
    labels,
    running: new Map(),
    waiting: [],
    seen: new Map(),
    inFlight: new Set(),
    cancelled: new Set(),
    drain: false,
    lastState: "ready",
    closed: false,
  };
  const onError = (err: unknown) => report(s, err);

  await announce(s);
  const sub: Subscription = nc.subscribe(ctx.subjects.fleetDispatch(hostToken(hostname)), {
    callback: (err, m) => {
      if (!err) onDispatchMessage(s, m.data);
    },
  });
  await nc.flush();
  const beat = setInterval(() => void announce(s).catch(onError), s.timings.heartbeatMs);
  const controlWatch = await watchControl(s);

  let queueWorker: { close(): Promise<void> } | undefined;
  if (o.queues && o.queues.length > 0) {
    const { startQueueWorker } = await import("./queue-worker.js");
    queueWorker = await startQueueWorker(nc, o, ops, hostname, log);
  }

  /** Removes the signal handlers (set below when `handleSignals` is on). */
  let unlisten = (): void => undefined;
  let closing: Promise<void> | undefined;
  const agent: Agent = {
    hostname,
    instance: s.instance,
    labels: () => s.labels,
    state: () => agentState(s),
    running: () => s.running.size,
    async drain() {
      s.drain = true;
      await announce(s);
    },
    async undrain() {
      s.drain = false;
      await announce(s);
    },
    async setLabels(next) {
      s.configuredLabels = normalizeLabels(next);
      s.labels = s.configuredLabels;
      await announce(s);
    },
    close() {
      closing ??= (async () => {
        s.closed = true;
        unlisten();
        sub.unsubscribe();
        clearInterval(beat);
        controlWatch.stop();
        s.waiting.length = 0;
        await queueWorker?.close();
        await settleJobs(s);
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

/**
 * The agent's NATS connection and context: the store's (in a server process), or its own connection
 * (`nats` a URL) or the caller's, with only what the agent's NATS identity may use.
 */
async function openAgentContext(
  o: AgentOptions & { storeContext?: StoreContext },
  hostname: string,
  log: Logger,
): Promise<{ nc: NatsConnection; ctx: AgentContext; ownConnection: boolean }> {
  if (o.storeContext) {
    const ctx = agentContextOf(o.storeContext);
    return { nc: ctx.nc, ctx, ownConnection: false };
  }
  let nc: NatsConnection;
  let ownConnection = false;
  if (typeof o.nats === "string") {
    // Its own reply prefix: with an agent identity it may receive on nothing else.
    const natsOptions = { inboxPrefix: inboxPrefixFor(hostname), ...o.natsOptions };
    nc = await connectAgentNats(o.nats, natsOptions, hostname, log);
    ownConnection = true;
  } else nc = o.nats;
  // Only what the agent's NATS identity may use (access/permissions.ts); servers create the rest.
  const ctx = await createAgentContext(nc, o.topology);
  return { nc, ctx, ownConnection };
}

/**
 * Operator control: drain/undrain and labels set through the API, kept across restarts. Watches the
 * agent's control record and applies each change (a deleted record undoes it); returns the watch.
 */
async function watchControl(s: AgentRuntime): Promise<{ stop(): void }> {
  const applyControl = (c: AgentControl | undefined) => {
    s.drain = c?.drain ?? false;
    s.labels = c?.labels ?? s.configuredLabels;
    s.lastState = agentState(s);
    void announce(s).catch((err: unknown) => report(s, err));
  };
  const controlWatch = await s.ctx.buckets.fleet.watch({ key: controlKey(s.hostname) });
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
        else s.log.warn("ignored malformed agent control record");
      }
    }
  })().catch((err: unknown) => report(s, err));
  return controlWatch;
}

/** Waits for the jobs in flight; after `shutdownTimeoutMs` aborts the ones still running. */
async function settleJobs(s: AgentRuntime): Promise<void> {
  const all = Promise.allSettled([...s.inFlight]);
  const timer = setTimeout(() => {
    for (const a of s.running.values()) a.abort(new JetjobError(ErrorCode.Closed, "the agent is stopping"));
  }, s.timings.shutdownTimeoutMs);
  await all;
  clearTimeout(timer);
}
