/**
 * Moves this process made into queue lanes, for the claim check of moved jobs (validate.ts). A copy
 * is published before the pointer to it is written, so a worker in the same process that gets the
 * copy at once (an exclusive key handed on by its own outcome hook, exclusive-handover.ts) used to
 * find the pointer missing and re-check after 1, 2, 4 and 8 ms. Here it waits for the mover's
 * append instead, and a slot whose pointer this process wrote needs no read at all. A segment this
 * process did not move (or that it forgot) is checked as before.
 *
 * Moves to workers in other processes (the sequencer's hand-overs, exclusive-handover.ts) are
 * announced: once the pointers are stored, the mover publishes a moved notice (core NATS,
 * `Subjects.moves`) with the slots it pointed to, and marks the segment (`Segment.an`). A worker
 * that listens ({@link listenForMoves}) waits a moment for that notice instead of reading the
 * pointers; without it (lost with a crash, or a move that failed), the pointers are read as before.
 */
import type { Subscription } from "@nats-io/nats-core";

import type { Store } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";
import { refKey } from "./segment.js";

interface Registry {
  /** Lane segment `store.seq` → the slots whose `move` pointer was appended (once settled). */
  moved: Map<string, Promise<ReadonlySet<number>>>;
  /** Moves between their publish and their pointers (their segment's seq not known yet). */
  publishing: Set<Promise<unknown>>;
  /** Claims waiting for a moved notice of segment `store.seq`. */
  waiters: Map<string, Array<() => void>>;
}

const registries = new WeakMap<object, Registry>();
const KEPT_SEGMENTS = 4096;
/** How long a claim waits for this process's moves in flight before it checks pointers as usual. */
const PUBLISH_WAIT_MS = 100;

function registryOf(owner: object): Registry {
  let r = registries.get(owner);
  if (!r) registries.set(owner, (r = { moved: new Map(), publishing: new Set(), waiters: new Map() }));
  return r;
}

/**
 * Runs a move: `publish` stores the copy and returns its segment, `point` appends the pointers and
 * returns the slots (indexes in the new segment) whose pointer was written.
 */
export async function trackMove<T extends { store: Store; seq: number }>(
  owner: object,
  publish: () => Promise<T>,
  point: (target: T) => Promise<ReadonlySet<number>>,
): Promise<T> {
  const r = registryOf(owner);
  let settle!: (v: ReadonlySet<number>) => void;
  const done = new Promise<ReadonlySet<number>>((res) => (settle = res));
  const publishing = (async () => {
    const target = await publish();
    const key = refKey(target.store, target.seq);
    r.moved.set(key, done);
    if (r.moved.size > KEPT_SEGMENTS) r.moved.delete(r.moved.keys().next().value!);
    return target;
  })();
  r.publishing.add(publishing);
  let target: T;
  try {
    target = await publishing;
  } catch (err) {
    settle(new Set());
    throw err;
  } finally {
    r.publishing.delete(publishing);
  }
  try {
    settle(await point(target));
  } catch (err) {
    settle(new Set());
    throw err;
  }
  return target;
}

/** Whether the moves known for segment `key` include slot `idx`: true, or undefined (not known). */
async function knownMoved(r: Registry, key: string, idx: number): Promise<true | undefined> {
  return (await r.moved.get(key))?.has(idx) === true ? true : undefined;
}

/**
 * Whether this process moved slot `idx` of segment `store.seq` here and wrote its pointer: true, or
 * undefined when it does not know (check the pointers as usual).
 */
export async function movedHereLocally(
  owner: object,
  store: Store,
  seq: number,
  idx: number,
): Promise<true | undefined> {
  const r = registries.get(owner);
  if (!r) return undefined;
  const key = refKey(store, seq);
  // Its delivery may arrive before the mover learns the sequence: let moves in flight get that far
  // (not longer than a moment: a publish stuck in an outage must not hold up other claims).
  if (!r.moved.has(key) && r.publishing.size > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...r.publishing]),
      new Promise((res) => (timer = setTimeout(res, PUBLISH_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }
  return knownMoved(r, key, idx);
}

/** How long a claim of an announced segment waits for its moved notice before it reads the pointers. */
export const MOVED_NOTICE_WAIT_MS = 50;

/** Publishes that the pointers to slots `slots` of segment `store.seq` are stored. */
export function announceMoves(
  ctx: StoreContext,
  store: Store,
  seq: number,
  slots: ReadonlySet<number>,
): void {
  if (slots.size === 0) return;
  ctx.nc.publish(ctx.subjects.moves(), JSON.stringify([store, seq, [...slots]]));
}

/** Records the moved notices other processes publish, for {@link movedNotice}; stop with `unsubscribe`. */
export function listenForMoves(ctx: StoreContext): Subscription {
  return ctx.nc.subscribe(ctx.subjects.moves(), {
    callback: (err, m) => {
      if (err) return;
      let notice: unknown;
      try {
        notice = m.json();
      } catch {
        return;
      }
      if (!Array.isArray(notice) || notice.length !== 3) return;
      const [store, seq, slots] = notice as [unknown, unknown, unknown];
      if (typeof store !== "number" || typeof seq !== "number" || !Array.isArray(slots)) return;
      const r = registryOf(ctx);
      const key = refKey(store as Store, seq);
      const known = new Set(slots.filter((i): i is number => Number.isInteger(i)));
      const before = r.moved.get(key);
      r.moved.set(key, before ? before.then((b) => new Set([...b, ...known])) : Promise.resolve(known));
      if (r.moved.size > KEPT_SEGMENTS) r.moved.delete(r.moved.keys().next().value!);
      const waiting = r.waiters.get(key);
      r.waiters.delete(key);
      for (const wake of waiting ?? []) wake();
    },
  });
}

/**
 * Whether a moved notice says the pointer to slot `idx` of segment `store.seq` is stored, waiting up
 * to `waitMs` for it: true, or undefined when none came (check the pointers as usual).
 */
export async function movedNotice(
  ctx: StoreContext,
  store: Store,
  seq: number,
  idx: number,
  waitMs = MOVED_NOTICE_WAIT_MS,
): Promise<true | undefined> {
  const r = registryOf(ctx);
  const key = refKey(store, seq);
  if (!r.moved.has(key)) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((wake) => {
      let list = r.waiters.get(key);
      if (!list) r.waiters.set(key, (list = []));
      list.push(wake);
      timer = setTimeout(() => {
        const rest = r.waiters.get(key)?.filter((w) => w !== wake);
        if (rest && rest.length > 0) r.waiters.set(key, rest);
        else r.waiters.delete(key);
        wake();
      }, waitMs);
    });
    clearTimeout(timer);
  }
  return knownMoved(r, key, idx);
}
