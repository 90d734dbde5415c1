/**
 * `jetjob job watch <id>`: one line per live event of a job (NDJSON with --json) until it finishes.
 * Exit code 0 when it completed, 1 when it was discarded, cancelled or expired. Ctrl-C stops
 * watching (exit 130, the shell's convention for SIGINT); a second Ctrl-C kills as usual.
 */
import type { JobEvent } from "../client/api.js";
import type { Client } from "../client/client.js";
import { BackendError, ExitCode } from "../core/errors.js";
import { color, stateColor } from "./output.js";

/** Exit code after Ctrl-C: 128 + SIGINT. */
export const INTERRUPTED_EXIT = 130;

type Outcome = "completed" | "failed";

const failedEvents = new Set(["job.discarded", "job.cancelled", "job.expired"]);
const failedStates = new Set(["discarded", "cancelled"]);

/** How the job ended, if this event says it ended. */
function outcomeOf(e: JobEvent): Outcome | undefined {
  if (e.type === "job.completed") return "completed";
  if (failedEvents.has(e.type)) return "failed";
  if (e.type === "job.state") {
    if (e.data.state === "completed") return "completed";
    if (failedStates.has(e.data.state ?? "")) return "failed";
  }
  return undefined;
}

function eventColor(type: string): string {
  const padded = type.padEnd(13);
  if (type === "job.completed") return color.green(padded);
  if (failedEvents.has(type) || type === "job.failed") return color.red(padded);
  if (type === "job.retrying" || type === "job.requeued") return color.yellow(padded);
  return color.cyan(padded);
}

/** One human line: time, event type, then whichever of state/attempt/worker/duration/error it has. */
export function formatEvent(e: JobEvent): string {
  const d = e.data;
  const parts = [color.dim(e.timestamp), eventColor(e.type)];
  if (d.state !== undefined) parts.push(`state ${stateColor(d.state)}`);
  if (d.attempt !== undefined) parts.push(`attempt ${d.attempt}`);
  if (d.worker_id !== undefined) parts.push(`worker ${d.worker_id}`);
  if (d.duration_ms !== undefined) parts.push(`${d.duration_ms}ms`);
  if (d.error_code !== undefined) parts.push(color.red(`error ${d.error_code}`));
  return parts.join("  ").trimEnd();
}

export async function watchJob(client: Client, id: string, json: boolean): Promise<void> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  let outcome: Outcome | undefined;
  try {
    for await (const e of client.watch(id, { signal: ac.signal })) {
      process.stdout.write((json ? JSON.stringify(e) : formatEvent(e)) + "\n");
      outcome = outcomeOf(e) ?? outcome;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (ac.signal.aborted) {
    if (!json) process.stderr.write(color.dim(`stopped watching job ${id}`) + "\n");
    process.exitCode = INTERRUPTED_EXIT;
    return;
  }
  if (outcome === undefined) {
    throw new BackendError(`the event stream of job ${id} ended before the job finished`, {
      hint: `Check the job with \`jetjob job get ${id}\`, or watch it again.`,
    });
  }
  process.exitCode = outcome === "completed" ? ExitCode.Ok : ExitCode.Failed;
}
