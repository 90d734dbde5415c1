/**
 * How many replicas jetjob's streams and buckets get when the operator does not say: `jetjob server`
 * without `--replicas` ({@link detectReplicas}), and new resources created by a worker, agent or NATS
 * client (topology.ts). What already exists wins, so a restart never rescales a deployment behind the
 * operator's back; a new deployment gets 3 replicas on a cluster of at least three servers and 1
 * otherwise.
 *
 * The cluster size comes from the connected server's INFO: `cluster` (its cluster name) and
 * `connect_urls` (the client URLs of every server in that cluster, its own included). No JetStream
 * API tells an ordinary account how many JetStream peers there are; `$JS.API.INFO` only reports the
 * account's usage and limits. INFO undercounts when servers run with `no_advertise` or when a node is
 * down at start-up, so production deployments should pass `--replicas 3` explicitly.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/** The replica count jetjob uses on a cluster (3 is the usual quorum size: it survives one lost node). */
export const CLUSTER_REPLICAS = 3;

/** What {@link chooseReplicas} decides from. */
export interface ReplicaHints {
  /** Replicas of jetjob's queue stream, when it exists already. */
  existing?: number;
  /** Cluster name of the connected server (absent on a server that is not clustered). */
  cluster?: string;
  /** Client URLs of the servers of that cluster, as INFO `connect_urls` lists them. */
  connectUrls?: readonly string[];
}

export interface ReplicaChoice {
  replicas: number;
  /** Why, for the start-up log. */
  reason: string;
}

/** The pure decision: existing streams win, then a cluster of ≥ 3 servers gets 3, anything else 1. */
export function chooseReplicas(h: ReplicaHints): ReplicaChoice {
  if (h.existing !== undefined && h.existing > 0) {
    return { replicas: h.existing, reason: `the existing streams have ${h.existing}` };
  }
  const servers = new Set(h.connectUrls ?? []).size;
  if (h.cluster && servers >= CLUSTER_REPLICAS) {
    return {
      replicas: CLUSTER_REPLICAS,
      reason: `cluster ${h.cluster} has ${servers} servers`,
    };
  }
  return {
    replicas: 1,
    reason: h.cluster
      ? `cluster ${h.cluster} lists only ${servers} server(s)`
      : "the NATS server is not part of a cluster",
  };
}

/** The cluster hints of the connected server's INFO (no round trip). */
export function serverHints(nc: NatsConnection): ReplicaHints {
  const info = nc.info;
  return {
    ...(info?.cluster === undefined ? {} : { cluster: info.cluster }),
    ...(info?.connect_urls === undefined ? {} : { connectUrls: info.connect_urls }),
  };
}

/**
 * Detects the replica count for the topology whose queue stream is `queueStream` (see
 * {@link chooseReplicas}). Errors other than "stream not found" propagate: guessing while JetStream
 * is unreachable could scale an existing deployment down.
 */
export async function detectReplicas(
  nc: NatsConnection,
  jsm: JetStreamManager,
  queueStream: string,
): Promise<ReplicaChoice> {
  let existing: number | undefined;
  try {
    existing = (await jsm.streams.info(queueStream)).config.num_replicas;
  } catch (err) {
    // Translated here rather than with topology.ts's helper: topology.ts imports this module.
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
  }
  return chooseReplicas({ ...serverHints(nc), ...(existing === undefined ? {} : { existing }) });
}
