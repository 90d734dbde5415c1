/**
 * The part of the store an agent uses, opened with nothing but the rights of its NATS identity
 * (access/permissions.ts): the agents bucket (its own entry), the fleet bucket (job records it is
 * sent, its own control record), and publishing and reading its own timeline subjects. Unlike
 * `createStoreContext` it creates nothing and opens no other bucket or stream.
 */
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { createSharedInbox } from "../nats/inbox.js";
import type { Publisher } from "../nats/publisher.js";
import { createPublisher } from "../nats/publisher.js";
import type { StreamReader } from "../nats/reader.js";
import { createStreamReader } from "../nats/reader.js";
import type { StoreContext } from "../store/infra/context.js";
import { createStoreContext } from "../store/infra/context.js";
import type { ResolvedTopology, TopologyOptions } from "../store/infra/topology.js";
import { resolveTopology, Subjects } from "../store/infra/topology.js";

export interface AgentContext {
  nc: NatsConnection;
  topology: ResolvedTopology;
  subjects: Subjects;
  publisher: Publisher;
  reader: StreamReader;
  buckets: { agents: KV; fleet: KV };
  close(): void;
}

/** A full store context serves as an agent context (tests and `jetjob start` share one). */
export function agentContextOf(ctx: StoreContext): AgentContext {
  return ctx;
}

export async function createAgentContext(
  nc: NatsConnection,
  topologyOptions: TopologyOptions | undefined,
): Promise<AgentContext> {
  const topology = resolveTopology(topologyOptions);
  const kvm = new Kvm(nc);
  let agents: KV;
  let fleet: KV;
  try {
    [agents, fleet] = await Promise.all([
      kvm.open(topology.buckets.agents),
      kvm.open(topology.buckets.fleet),
    ]);
    // `open` does not look: ask for the buckets' streams (an agent identity may read these two).
    await Promise.all([agents.status(), fleet.status()]);
  } catch (err) {
    // No server has created the store yet (the client reports a missing bucket in more than one
    // way): an agent with full NATS rights (the deployment's shared login) creates it, as before
    // identities; one with its own identity cannot, and gets the first error.
    try {
      return await createStoreContext(nc, {
        ...(topologyOptions === undefined ? {} : { topology: topologyOptions }),
      });
    } catch {
      throw err;
    }
  }
  const inbox = createSharedInbox(nc);
  return {
    nc,
    topology,
    subjects: new Subjects(topology.prefix),
    publisher: createPublisher(nc, inbox),
    reader: createStreamReader(nc, inbox),
    buckets: { agents, fleet },
    close: () => inbox.close(),
  };
}
