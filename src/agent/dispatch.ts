/**
 * The agent's dispatch subject (agent.ts): each message is a job to take or a cancel notice. A job
 * is taken once per epoch (a re-send of the same dispatch is dropped) and waits while `concurrency`
 * jobs are in flight; a cancel stops the job if it runs, or drops it while it waits.
 */
import { ErrorCode, JetjobError } from "../core/errors.js";
import type { DispatchRequest } from "../fleet/types.js";
import type { AgentRuntime } from "./runtime.js";
import { report } from "./runtime.js";
import { takeJob } from "./take-job.js";

const dec = new TextDecoder();
/** Job ids remembered to drop re-sends (the oldest are forgotten first). */
const SEEN_LIMIT = 4096;

/** Handles one message on the dispatch subject; never throws (it runs inside the NATS client). */
export function onDispatchMessage(s: AgentRuntime, data: Uint8Array): void {
  const msg = parseDispatch(data);
  if (msg === undefined) {
    s.log.warn("ignored a malformed dispatch message");
    return;
  }
  if (msg.cancel !== undefined) {
    cancelJob(s, msg.cancel);
    return;
  }
  const { req } = msg;
  if ((s.seen.get(req.id) ?? 0) >= req.epoch) return; // the same dispatch again (a re-send)
  s.seen.set(req.id, req.epoch);
  if (s.seen.size > SEEN_LIMIT) s.seen.delete(s.seen.keys().next().value!);
  s.waiting.push(req);
  pumpJobs(s);
}

/** A dispatch request or a cancel notice; undefined for anything else. */
export function parseDispatch(
  data: Uint8Array,
): { cancel: string; req?: undefined } | { cancel?: undefined; req: DispatchRequest } | undefined {
  let msg: Partial<DispatchRequest> & { cancel?: string };
  try {
    msg = JSON.parse(dec.decode(data)) as typeof msg;
  } catch {
    return undefined;
  }
  // `null`, numbers, arrays: a throw here would run inside the NATS client and close the connection.
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return undefined;
  if (typeof msg.cancel === "string") return { cancel: msg.cancel };
  if (
    typeof msg.id !== "string" ||
    typeof msg.op !== "string" ||
    typeof msg.epoch !== "number" ||
    typeof msg.deadline_at !== "number" ||
    (msg.kind !== "query" && msg.kind !== "modify")
  ) {
    return undefined;
  }
  return { req: msg as DispatchRequest };
}

/** Stops a running job (it is stored as `cancelled`) or drops it while it waits. */
function cancelJob(s: AgentRuntime, id: string): void {
  if (s.running.has(id)) s.cancelled.add(id);
  s.running.get(id)?.abort(new JetjobError(ErrorCode.Closed, "the job was cancelled"));
  const i = s.waiting.findIndex((w) => w.id === id);
  if (i >= 0) s.waiting.splice(i, 1);
}

/** Takes waiting jobs while fewer than `concurrency` are in flight. */
export function pumpJobs(s: AgentRuntime): void {
  while (!s.closed && s.waiting.length > 0 && s.inFlight.size < s.concurrency) {
    const req = s.waiting.shift()!;
    const p: Promise<void> = takeJob(s, req)
      .catch((err: unknown) => {
        // Nothing was stored for it here: let the controller's re-send try again.
        if (!s.running.has(req.id)) s.seen.delete(req.id);
        report(s, err);
      })
      .finally(() => {
        s.inFlight.delete(p);
        pumpJobs(s);
      });
    s.inFlight.add(p);
  }
}
