/**
 * A lane's durable consumer (queues.ts): one per queue and priority on the queue stream, created
 * before the lane's first segment is published. Its ack wait is the lease of a segment delivery,
 * which workers renew while they run its jobs.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy, JetStreamApiError, ReplayPolicy } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";

import { BackendError } from "../../core/errors.js";
import type { ResolvedTopology, Subjects } from "../infra/topology.js";

/** Creates the lane's consumer; one that exists already (with any config) serves as it is. */
export async function createLaneConsumer(
  d: { jsm: JetStreamManager; topology: ResolvedTopology; subjects: Subjects; leaseMs: number },
  queue: string,
  priority: number,
): Promise<void> {
  try {
    await d.jsm.consumers.add(d.topology.streams.queue, {
      durable_name: d.subjects.laneConsumer(queue, priority),
      filter_subject: d.subjects.lane(queue, priority),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(d.leaseMs),
      max_deliver: -1,
      max_ack_pending: 20_000,
      max_waiting: 4096,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
    });
  } catch (err) {
    // 10148: consumer exists with a different config (e.g. another lease); the existing one serves.
    if (!(err instanceof JetStreamApiError && err.code === 10148)) {
      throw new BackendError(`cannot create the consumer of queue ${queue} priority ${priority}`, {
        cause: err,
      });
    }
  }
}
