/**
 * Background tasks, one shape for all: the delay promoter, cron ticks and sweeps, the housekeeper,
 * fleet reclaiming and heartbeats. A task says where it runs (`everywhere`, or only on the process
 * elected `leader` of a named lease) and how to start; starting gives a handle to close. One runner
 * starts and closes them: `everywhere` tasks at once, `leader` tasks each time this process is
 * elected and closed again when it is demoted, and all of them on `close()`, in reverse order.
 */
import type { LeaderOptions, Leadership } from "./leader.js";
import { startLeaderElection } from "./leader.js";

export type TaskScope = "leader" | "everywhere";

/** A started task. */
export interface RunningTask {
  close(): Promise<void>;
}

export interface BackgroundTask {
  /** For logs and errors. */
  readonly name: string;
  readonly scope: TaskScope;
  /** Starts the work. A `leader` task is started again after each new election. */
  start(): RunningTask;
}

export interface PeriodicTaskOptions {
  name: string;
  scope: TaskScope;
  everyMs: number;
  /** One round of work; a round still running when the next is due skips that one. */
  tick: () => Promise<void>;
  onError: (err: unknown) => void;
  /** Run a first round at once instead of after `everyMs`. @defaultValue false */
  runAtStart?: boolean;
  /** Keep the process alive for this timer. @defaultValue true */
  keepsProcessAlive?: boolean;
}

/** A task that runs `tick` every `everyMs`, never overlapping itself; `close()` waits for a running round. */
export function periodicTask(o: PeriodicTaskOptions): BackgroundTask {
  return {
    name: o.name,
    scope: o.scope,
    start() {
      let round: Promise<void> | undefined;
      const run = () => {
        if (round) return;
        round = o
          .tick()
          .catch(o.onError)
          .finally(() => (round = undefined));
      };
      const timer = setInterval(run, o.everyMs);
      if (o.keepsProcessAlive === false) timer.unref();
      if (o.runAtStart) run();
      return {
        async close() {
          clearInterval(timer);
          await round;
        },
      };
    },
  };
}

export interface TaskRunnerOptions {
  /** The lease `leader` tasks need; without it, `leader` tasks are refused. */
  election?: Omit<LeaderOptions, "onElected" | "onDemoted" | "onError">;
  onError: (err: unknown) => void;
}

export interface TaskRunner {
  /** Whether this process is the leader now, so its `leader` tasks run. */
  readonly leading: boolean;
  /** Runs `fn` with the `leader` tasks closed, then starts them again if they were running. */
  whileLeaderTasksStopped<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Starts the `everywhere` tasks now and the `leader` tasks whenever this process is elected. */
export function runTasks(tasks: readonly BackgroundTask[], o: TaskRunnerOptions): TaskRunner {
  const leaderTasks = tasks.filter((t) => t.scope === "leader");
  if (leaderTasks.length > 0 && !o.election) {
    throw new Error(`leader tasks need an election: ${leaderTasks.map((t) => t.name).join(", ")}`);
  }
  const everywhere = tasks.filter((t) => t.scope === "everywhere").map((t) => t.start());
  let led: RunningTask[] | undefined;
  let stopping: Promise<void> = Promise.resolve();

  const startLeaderTasks = () => {
    led ??= leaderTasks.map((t) => t.start());
  };
  const stopLeaderTasks = async () => {
    const running = led;
    led = undefined;
    if (running) await closeAll(running);
  };

  let leadership: Leadership | undefined;
  if (leaderTasks.length > 0 && o.election) {
    leadership = startLeaderElection({
      ...o.election,
      onElected: startLeaderTasks,
      onDemoted: () => {
        stopping = stopping.then(stopLeaderTasks).catch(o.onError);
      },
      onError: o.onError,
    });
  }

  return {
    get leading() {
      return led !== undefined;
    },
    async whileLeaderTasksStopped(fn) {
      const was = led !== undefined;
      await stopLeaderTasks();
      try {
        return await fn();
      } finally {
        if (was && leadership?.isLeader) startLeaderTasks();
      }
    },
    async close() {
      await leadership?.close();
      await stopping;
      await stopLeaderTasks();
      await closeAll(everywhere);
    },
  };
}

/** Closes in reverse start order; every one is closed even if one fails (the first failure is thrown). */
async function closeAll(running: readonly RunningTask[]): Promise<void> {
  const outcomes: PromiseSettledResult<void>[] = [];
  for (const r of [...running].reverse()) outcomes.push(...(await Promise.allSettled([r.close()])));
  const failed = outcomes.find((x): x is PromiseRejectedResult => x.status === "rejected");
  if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
}
