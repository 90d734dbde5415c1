/**
 * A fleet job's timeline: append-only events in the fleet stream, one subject per job and host. The
 * agent's `completed` / `failed` events carry the host's result, so results are stored the moment they
 * arrive. Reading and following use an ordered consumer filtered on the job's subjects.
 */
import type { ConsumerMessages } from "@nats-io/jetstream";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";

import type { StoreContext } from "../store/infra/context.js";
import { CONTROLLER_TOKEN, hostToken } from "../store/infra/topology.js";
import type { TimelineEvent } from "./types.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Where an event is stored: what an agent did on its host goes to the host's own subject, so the last
 * message there is the agent's record of having taken the job (its duplicate check after a restart).
 * The controller's events, also those about one host, go to the job's `_` subject; an agent's
 * refusals to its own `.r` subject ({@link refusalSubject}).
 */
export function timelineSubject(
  ctx: Pick<StoreContext, "subjects">,
  jobId: string,
  agentHost: string | undefined,
): string {
  return ctx.subjects.fleetTimeline(jobId, agentHost === undefined ? CONTROLLER_TOKEN : hostToken(agentHost));
}

/** Stores a controller event, waiting for the stream's ack. */
export async function appendEvent(ctx: StoreContext, jobId: string, ev: TimelineEvent): Promise<number> {
  const ack = await ctx.publisher.publish(
    timelineSubject(ctx, jobId, undefined),
    enc.encode(JSON.stringify(ev)),
  );
  return ack.seq;
}

/**
 * Where an agent stores its refusal of a dispatch (stale epoch, moved): on its own host's `.r`
 * subject, beside (not on) the subject whose last message is its record of having taken the job, and
 * never on the controller's `_` subject, which agents may not write when NATS identities are on.
 */
export function refusalSubject(
  ctx: Pick<StoreContext, "subjects">,
  jobId: string,
  agentHost: string,
): string {
  return `${ctx.subjects.fleetTimeline(jobId, hostToken(agentHost))}.r`;
}

/** Stores an agent's refusal of a dispatch (see {@link refusalSubject}). */
export async function appendAgentRefusal(
  ctx: Pick<StoreContext, "subjects" | "publisher">,
  jobId: string,
  ev: TimelineEvent & { h: string },
): Promise<number> {
  const ack = await ctx.publisher.publish(refusalSubject(ctx, jobId, ev.h), enc.encode(JSON.stringify(ev)));
  return ack.seq;
}

let foreignEvents = 0;

/** How many timeline events this process ignored because their host did not match their subject. */
export function foreignEventCount(): number {
  return foreignEvents;
}

/**
 * A stored timeline message as an event, or `undefined` when it is malformed or claims another host
 * than the one whose subject it was stored on (`<p>.ft.<job>.<host token>[.r]`): agent A can never make
 * a result of host B count, even where NATS permissions are off. Events on the controller's `_`
 * subject are taken as they are (only servers may write there when identities are on).
 */
export function eventFromMessage(
  subject: string,
  data: Uint8Array,
  onForeign?: (subject: string, ev: TimelineEvent) => void,
): TimelineEvent | undefined {
  const ev = decodeEvent(data);
  if (!ev) return undefined;
  const parts = subject.split(".");
  const last = parts[parts.length - 1];
  const tok = last === "r" ? parts[parts.length - 2] : last;
  if (tok === CONTROLLER_TOKEN) return ev;
  if (ev.h === undefined || hostToken(ev.h) !== tok) {
    foreignEvents++;
    onForeign?.(subject, ev);
    return undefined;
  }
  return ev;
}

/** Stores what an agent did on its host (`acknowledged`, `started`, `completed`, `failed`). */
export async function appendAgentEvent(
  ctx: Pick<StoreContext, "subjects" | "publisher">,
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
  ctx: Pick<StoreContext, "subjects" | "reader" | "topology">,
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
      const ev = eventFromMessage(m.subject, m.data);
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
  onForeign?: (subject: string, ev: TimelineEvent) => void,
): Promise<TimelineFollower> {
  const consumer = await jetstream(ctx.nc).consumers.get(ctx.topology.streams.fleet, {
    filter_subjects: [ctx.subjects.fleetTimelineAll(jobId)],
    deliver_policy: DeliverPolicy.All,
  });
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
  const done = (async () => {
    for await (const m of messages) {
      const ev = eventFromMessage(m.subject, m.data, onForeign);
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
