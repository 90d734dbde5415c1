/**
 * A fleet job's timeline: append-only events in the fleet stream, one subject per job and host. The
 * agent's `completed` / `failed` events carry the host's result, so results are stored the moment they
 * arrive. Reading and following use an ordered consumer filtered on the job's subjects.
 */
import type { ConsumerMessages } from "@nats-io/jetstream";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";

import type { StoreContext } from "../store/context.js";
import { CONTROLLER_TOKEN, hostToken } from "../store/topology.js";
import type { TimelineEvent } from "./types.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Where an event is stored: what an agent did on its host goes to the host's own subject, so the last
 * message there is the agent's record of having taken the job (its duplicate check after a restart).
 * Everything else (the controller's events, also those about one host, and an agent's refusals)
 * goes to the job's `_` subject.
 */
export function timelineSubject(ctx: StoreContext, jobId: string, agentHost: string | undefined): string {
  return ctx.subjects.fleetTimeline(jobId, agentHost === undefined ? CONTROLLER_TOKEN : hostToken(agentHost));
}

/** Stores a controller event (or an agent's refusal), waiting for the stream's ack. */
export async function appendEvent(ctx: StoreContext, jobId: string, ev: TimelineEvent): Promise<number> {
  const ack = await ctx.publisher.publish(
    timelineSubject(ctx, jobId, undefined),
    enc.encode(JSON.stringify(ev)),
  );
  return ack.seq;
}

/** Stores what an agent did on its host (`acknowledged`, `started`, `completed`, `failed`). */
export async function appendAgentEvent(
  ctx: StoreContext,
  jobId: string,
  ev: TimelineEvent & { h: string },
): Promise<number> {
  const ack = await ctx.publisher.publish(timelineSubject(ctx, jobId, ev.h), enc.encode(JSON.stringify(ev)));
  return ack.seq;
}

/**
 * Decodes a stored event; anything not shaped like one is skipped (`undefined`). The fold, the owner's
 * follower and the API read these fields without further checks: one event with a numeric `h` would
 * otherwise stop the owner following the job and break every read of it.
 */
export function decodeEvent(data: Uint8Array): TimelineEvent | undefined {
  let ev: unknown;
  try {
    ev = JSON.parse(dec.decode(data));
  } catch {
    return undefined;
  }
  if (typeof ev !== "object" || ev === null || Array.isArray(ev)) return undefined;
  const o = ev as Record<string, unknown>;
  const ok =
    typeof o.e === "string" &&
    Number.isFinite(o.at) &&
    Number.isFinite(o.ep) &&
    (o.h === undefined || typeof o.h === "string") &&
    (o.by === undefined || typeof o.by === "string") &&
    (o.d === undefined || (typeof o.d === "object" && o.d !== null && !Array.isArray(o.d)));
  return ok ? (o as unknown as TimelineEvent) : undefined;
}

/** The last event an agent stored about its host for a job (its record of what it already did). */
export async function lastHostEvent(
  ctx: StoreContext,
  jobId: string,
  host: string,
): Promise<TimelineEvent | undefined> {
  const m = await ctx.reader.get(ctx.topology.streams.fleet, {
    lastBySubject: timelineSubject(ctx, jobId, host),
  });
  return m ? decodeEvent(m.data) : undefined;
}

/** Every stored event of a job, in order. */
export async function readTimeline(ctx: StoreContext, jobId: string): Promise<TimelineEvent[]> {
  const stream = ctx.topology.streams.fleet;
  const filter = ctx.subjects.fleetTimelineAll(jobId);
  const last = await ctx.reader.get(stream, { lastBySubject: filter });
  if (!last) return [];
  const out: TimelineEvent[] = [];
  const consumer = await jetstream(ctx.nc).consumers.get(stream, {
    filter_subjects: [filter],
    deliver_policy: DeliverPolicy.All,
  });
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
    let got = 0;
    let seq = 0;
    for await (const m of batch) {
      got++;
      seq = m.seq;
      const ev = decodeEvent(m.data);
      if (ev) out.push(ev);
      if (m.seq >= last.seq) break;
    }
    if (seq >= last.seq || got === 0) break;
  }
  return out;
}

export interface TimelineFollower {
  close(): void;
  /** Resolves when the follower stops (closed or failed). */
  done: Promise<void>;
}

/**
 * Delivers every event of a job, stored ones first, then new ones as they are stored, until closed.
 * `onEvent` runs in order, one event at a time.
 */
export async function followTimeline(
  ctx: StoreContext,
  jobId: string,
  onEvent: (ev: TimelineEvent, seq: number) => void,
): Promise<TimelineFollower> {
  const consumer = await jetstream(ctx.nc).consumers.get(ctx.topology.streams.fleet, {
    filter_subjects: [ctx.subjects.fleetTimelineAll(jobId)],
    deliver_policy: DeliverPolicy.All,
  });
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
  const done = (async () => {
    for await (const m of messages) {
      const ev = decodeEvent(m.data);
      if (ev) onEvent(ev, m.seq);
    }
  })();
  return {
    close: () => void messages.close().catch(() => undefined),
    done: done.catch(() => undefined),
  };
}

/** Removes a job's whole timeline. */
export async function purgeTimeline(ctx: StoreContext, jobId: string): Promise<void> {
  await ctx.jsm.streams.purge(ctx.topology.streams.fleet, { filter: ctx.subjects.fleetTimelineAll(jobId) });
}
