/**
 * Every process of a deployment must hand exclusive keys on the same way: with the scheduler
 * leader's sequencer (exclusive-sequencer.ts, the default) or with per-key lines and records
 * (exclusive.ts, `JETJOB_EXCLUSIVE_SEQUENCER=0`). Mixed, the two designs keep two lines for one key,
 * so two jobs of a key could run at once, and jobs stored in one line are never seen by the other.
 *
 * The deployment's mode is a record in the keys bucket (`mode`), written by the first process that
 * opens the store. A process that opens it in the other mode is refused with a `conflict` error
 * naming both, except a sequencer process opening a deployment of per-key lines: the sequencer
 * takes those lines over (`adoptKeyLines`), so that switch is allowed and the record changes. A
 * process that was already running when the record changed learns it within
 * {@link MODE_RECHECK_MS} when it next stores a job with a key, and refuses it.
 */
import { ConflictError, ErrorCode } from "../../core/errors.js";
import type { KV } from "@nats-io/kv";

import { casUpdate, getJson } from "../infra/kvjson.js";

export type ExclusiveMode = "sequencer" | "lines";

/** What of a store context (infra/context.ts, which calls this as it opens) the check uses. */
export interface ModeContext {
  sequencer: boolean;
  instanceId: string;
  buckets: { xkeys: KV };
}

/** The key of the deployment's record in the keys bucket (never a key token: those start with `k`). */
export const EXCLUSIVE_MODE_KEY = "mode";

/** How long a process trusts the mode it last read before storing jobs with a key. */
export const MODE_RECHECK_MS = 10_000;

interface ModeRecord {
  mode: ExclusiveMode;
  /** When it was set (ms since the epoch), and by which process. */
  since: number;
  by: string;
}

/** This process's mode. */
function modeOf(ctx: Pick<ModeContext, "sequencer">): ExclusiveMode {
  return ctx.sequencer ? "sequencer" : "lines";
}

function refusal(deployment: ExclusiveMode, mine: ExclusiveMode): ConflictError {
  const setting = (m: ExclusiveMode) =>
    m === "sequencer" ? "the sequencer (the default)" : "per-key lines (JETJOB_EXCLUSIVE_SEQUENCER=0)";
  return new ConflictError(
    `This deployment hands exclusive keys on with ${setting(deployment)}, but this process was ` +
      `started with ${setting(mine)}; every process must use the same.`,
    {
      code: ErrorCode.Conflict,
      details: { deployment_mode: deployment, process_mode: mine },
      hint:
        deployment === "sequencer"
          ? "Unset JETJOB_EXCLUSIVE_SEQUENCER (or set it to 1). Going back to per-key lines is not " +
            "supported: jobs waiting in the sequencer's line would not be seen."
          : "Set JETJOB_EXCLUSIVE_SEQUENCER=0 here, or restart every process with the sequencer " +
            "(the first one to open the store takes the per-key lines over).",
    },
  );
}

const checked = new WeakMap<ModeContext, { at: number; pending?: Promise<void> }>();

/**
 * Settles the deployment's mode as this process opens the store: records it if none is recorded,
 * switches per-key lines to the sequencer, and throws a `conflict` {@link ConflictError} otherwise.
 */
export async function agreeExclusiveMode(ctx: ModeContext): Promise<void> {
  const mine = modeOf(ctx);
  await casUpdate<ModeRecord>(ctx.buckets.xkeys, EXCLUSIVE_MODE_KEY, (cur) => {
    if (cur?.mode === mine) return undefined;
    if (cur === undefined || (cur.mode === "lines" && mine === "sequencer")) {
      return { mode: mine, since: Date.now(), by: ctx.instanceId };
    }
    throw refusal(cur.mode, mine);
  });
  checked.set(ctx, { at: Date.now() });
}

/**
 * Before storing jobs with a key: throws the same `conflict` as {@link agreeExclusiveMode} when the
 * deployment's mode changed since this process last read it (read again after
 * {@link MODE_RECHECK_MS}; concurrent callers share one read).
 */
export async function assertExclusiveMode(ctx: ModeContext): Promise<void> {
  const c = checked.get(ctx);
  if (c && Date.now() - c.at < MODE_RECHECK_MS) return;
  if (c?.pending) return c.pending;
  const entry = c ?? { at: 0 };
  checked.set(ctx, entry);
  const pending = (async () => {
    try {
      const rec = await getJson<ModeRecord>(ctx.buckets.xkeys, EXCLUSIVE_MODE_KEY);
      const mine = modeOf(ctx);
      // No record: removed by hand (or a deployment older than the record); this process's stands.
      if (rec && rec.value.mode !== mine) throw refusal(rec.value.mode, mine);
      entry.at = Date.now();
    } finally {
      delete entry.pending;
    }
  })();
  entry.pending = pending;
  return pending;
}
