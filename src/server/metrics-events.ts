/**
 * Prometheus counters and histograms fed by what this process sees on NATS: the lifecycle events
 * that whichever process changes a job publishes on `<prefix>.ev.<queue>`, and the fleet timeline
 * events stored on `<prefix>.ft.<job>.<host token>` (a core subscription receives stored messages
 * too). Every API server subscribes to every event, so every server reports the same totals: do not
 * sum these series across servers.
 */
import type { Msg, Subscription } from "@nats-io/nats-core";
import type { Registry } from "prom-client";
import { Counter, Histogram } from "prom-client";

import { decodeEvent } from "../fleet/timeline.js";
import type { FleetStatus, HostState } from "../fleet/types.js";
import type { StoreContext } from "../store/infra/context.js";
import type { JobEvent } from "../store/jobs/events.js";
import { decodeEvents, EventType } from "../store/jobs/events.js";
import { CONTROLLER_TOKEN } from "../store/infra/topology.js";

/** From a millisecond handler to an hour-long one. */
export const JOB_SECONDS_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];

const seen = "as seen on NATS by this server (every server counts every event; do not sum across servers)";

/** Host results the fleet counter reports: the agent's outcomes and the controller's verdicts. */
const hostResults: ReadonlySet<string> = new Set<HostState>([
  "completed",
  "failed",
  "unreachable",
  "timeout",
  "cancelled",
]);
const fleetStatuses: ReadonlySet<string> = new Set<FleetStatus>([
  "completed",
  "partial_failure",
  "failed",
  "timeout",
  "cancelled",
]);

export interface EventMetrics {
  /** Unsubscribes; the counters keep their values. */
  close(): void;
}

/**
 * Registers the event-fed metrics in `registry` and subscribes to the job and fleet events. The
 * subscriptions are registered on the server once the caller flushes the connection.
 */
export function startEventMetrics(
  ctx: StoreContext,
  registry: Registry,
  onError: (err: unknown) => void,
): EventMetrics {
  const registers = [registry];
  const perQueue = (name: string, help: string) =>
    new Counter({ name, help: `${help}, ${seen}.`, labelNames: ["queue"] as const, registers });
  const enqueued = perQueue(
    "jetjob_jobs_enqueued_total",
    "Jobs that became ready to run (job.enqueued: new jobs, and scheduled, retried or held jobs once due)",
  );
  const completed = perQueue("jetjob_jobs_completed_total", "Jobs completed (job.completed)");
  const failed = perQueue("jetjob_jobs_failed_total", "Attempts that failed (job.failed)");
  const discarded = perQueue("jetjob_jobs_discarded_total", "Jobs discarded after their last attempt");
  const retried = perQueue(
    "jetjob_jobs_retried_total",
    "Failed attempts that will be retried (job.retrying)",
  );
  const wait = new Histogram({
    name: "jetjob_job_wait_seconds",
    help: `Time from a job becoming ready (enqueued, due, or due for a retry) to a worker taking it, ${seen}.`,
    labelNames: ["queue"] as const,
    buckets: JOB_SECONDS_BUCKETS,
    registers,
  });
  const run = new Histogram({
    name: "jetjob_job_run_seconds",
    help: `Duration of attempts, from handler start to completion or failure, ${seen}.`,
    labelNames: ["queue"] as const,
    buckets: JOB_SECONDS_BUCKETS,
    registers,
  });
  const fleetFinished = new Counter({
    name: "jetjob_fleet_jobs_finished_total",
    help: `Fleet jobs finished, by final status, ${seen}.`,
    labelNames: ["status"] as const,
    registers,
  });
  const fleetHosts = new Counter({
    name: "jetjob_fleet_host_results_total",
    help: `Per-host results of fleet jobs (agent outcomes and controller verdicts), ${seen}.`,
    labelNames: ["state"] as const,
    registers,
  });

  const onJobEvent = (e: JobEvent) => {
    const labels = { queue: typeof e.q === "string" ? e.q : "" };
    switch (e.t) {
      case EventType.Enqueued:
        enqueued.inc(labels);
        break;
      case EventType.Started:
        // Events from processes older than the `qa` field carry no ready time.
        if (typeof e.qa === "number" && typeof e.at === "number") {
          wait.observe(labels, Math.max(0, e.at - e.qa) / 1000);
        }
        break;
      case EventType.Completed:
        completed.inc(labels);
        if (typeof e.d === "number") run.observe(labels, Math.max(0, e.d) / 1000);
        break;
      case EventType.Failed:
        failed.inc(labels);
        if (typeof e.d === "number") run.observe(labels, Math.max(0, e.d) / 1000);
        break;
      case EventType.Retrying:
        retried.inc(labels);
        break;
      case EventType.Discarded:
        discarded.inc(labels);
        break;
      default:
        break;
    }
  };

  const onFleetEvent = (m: Msg) => {
    const ev = decodeEvent(m.data);
    if (!ev) return;
    const byController = m.subject.endsWith(`.${CONTROLLER_TOKEN}`);
    if (ev.e === "finished") {
      if (!byController) return;
      const status = ev.d?.status;
      fleetFinished.inc({
        status: typeof status === "string" && fleetStatuses.has(status) ? status : "other",
      });
    } else if (hostResults.has(ev.e) && (!byController || ev.h !== undefined)) {
      // Agents write outcomes on their host's subject; the controller's verdicts name the host.
      fleetHosts.inc({ state: ev.e });
    }
  };

  const subscribe = (subject: string, handle: (m: Msg) => void): Subscription =>
    ctx.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) {
          onError(err);
          return;
        }
        try {
          handle(m);
        } catch (e) {
          onError(e);
        }
      },
    });

  const subs = [
    subscribe(ctx.subjects.eventsAll(), (m) => {
      for (const e of decodeEvents(m.data)) onJobEvent(e);
    }),
    subscribe(ctx.subjects.fleetTimeline("*", "*"), onFleetEvent),
  ];
  return {
    close() {
      for (const s of subs) if (!s.isClosed()) s.unsubscribe();
    },
  };
}
