/**
 * The configuration of each stream jetjob uses (subjects, limits, discard policy); docs/architecture.md
 * explains what each one holds. Names and subjects come from the topology (topology.ts).
 */
import type { StreamConfig } from "@nats-io/jetstream";
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";

import type { ResolvedTopology } from "./topology.js";

/**
 * Stream configs, with their limits set explicitly. Queue, delay and journal have none: they hold
 * live jobs, so they keep data until housekeeping removes it (store/retention) and refuse new writes
 * rather than drop old ones. Events are bounded by size and age; fleet timelines by age, as a
 * backstop behind housekeeping. `ensureTopology` applies changed limits to existing streams.
 */
export function streamConfigs(
  t: ResolvedTopology,
  replicas = t.replicas ?? 1,
): Array<Partial<StreamConfig> & { name: string }> {
  const p = t.prefix;
  const common = {
    storage: StorageType.File,
    num_replicas: replicas,
    allow_direct: true,
    retention: RetentionPolicy.Limits,
  };
  return [
    {
      ...common,
      name: t.streams.queue,
      subjects: [`${p}.q.>`],
      discard: DiscardPolicy.New,
      duplicate_window: nanos(5 * 60_000),
      description: "jetjob: segments of jobs ready to run, one subject per queue and priority lane",
    },
    {
      ...common,
      name: t.streams.delay,
      subjects: [`${p}.dl.>`],
      discard: DiscardPolicy.New,
      duplicate_window: nanos(5 * 60_000),
      description: "jetjob: segments of scheduled and retrying jobs, one subject per due minute",
    },
    {
      ...common,
      name: t.streams.journal,
      subjects: [`${p}.j.>`],
      discard: DiscardPolicy.New,
      duplicate_window: nanos(60_000),
      description: "jetjob: append-only state journal, one subject per segment",
    },
    {
      ...common,
      name: t.streams.events,
      subjects: [`${p}.ev.>`],
      discard: DiscardPolicy.Old,
      max_bytes: t.eventsMaxBytes,
      max_age: nanos(t.eventsMaxAgeMs),
      duplicate_window: nanos(1000),
      description: "jetjob: recent lifecycle events (bounded)",
    },
    {
      ...common,
      name: t.streams.fleet,
      subjects: [`${p}.ft.>`],
      discard: DiscardPolicy.Old,
      max_age: nanos(t.fleetMaxAgeMs),
      duplicate_window: nanos(60_000),
      description: "jetjob: fleet job timelines, one subject per job and host (events and results)",
    },
    {
      ...common,
      name: t.streams.gc,
      subjects: [`${p}.gc.>`],
      // Removal checks may be due months ahead; each is deleted once processed.
      discard: DiscardPolicy.New,
      max_age: 0,
      max_bytes: -1,
      duplicate_window: nanos(60_000),
      description: "jetjob: housekeeping's removal checks, one subject per due minute",
    },
  ];
}
