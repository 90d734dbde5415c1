/**
 * An agent that also takes OJS queue jobs (`--queue`): a worker on those queues whose job types are
 * the agent's operations, so `POST /ojs/v1/jobs {"type":"system.hostname.get","queue":"agents"}` runs
 * on exactly one agent.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { Logger } from "../core/logger.js";
import type { JobContext } from "../worker/types.js";
import { createWorker } from "../worker/worker.js";
import type { AgentOp } from "./registry-ops.js";
import type { AgentOptions } from "./types.js";

export async function startQueueWorker(
  nc: NatsConnection,
  o: AgentOptions,
  ops: Map<string, AgentOp>,
  hostname: string,
  logger: Logger,
): Promise<{ close(): Promise<void> }> {
  const handlers: Record<string, (job: JobContext) => Promise<unknown>> = {};
  for (const op of ops.values()) {
    handlers[op.name] = (job) =>
      op.invoke(job.args.length === 1 ? job.args[0] : job.args, {
        id: job.id,
        op: op.name,
        args: job.args,
        hostname,
        epoch: job.attempt,
        deadline: new Date(Date.now() + 24 * 3600_000),
        signal: job.signal,
        ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }),
        // A queue job has no per-host timeline: progress and output lines have nowhere to go.
        progress: () => undefined,
        log: () => undefined,
      });
  }
  const worker = createWorker({
    nats: nc,
    queues: o.queues ?? [],
    handlers,
    concurrency: o.concurrency ?? 8,
    workerId: `${hostname}-queue`,
    handleSignals: false,
    logger,
    ...(o.topology === undefined ? {} : { topology: o.topology }),
    // With its own identity it may not touch the queue streams: through the relay, as itself.
    ...(o.queuesViaRelay === true ? { identity: { name: hostname, kind: "agent" as const } } : {}),
  });
  try {
    await worker.ready;
  } catch (err) {
    if (o.queuesViaRelay !== true) throw err;
    // Its identity was not granted these queues: it still runs fleet jobs; the worker logged why,
    // with the `jetjob agent accept … --queue` hint.
    await worker.close();
    return { close: () => Promise.resolve() };
  }
  return worker;
}
