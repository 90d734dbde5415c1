/**
 * Retention against a real nats-server, with retention of a fraction of a second and a housekeeper
 * that looks every few tens of milliseconds: finished jobs disappear on schedule (job, segment,
 * journal, dead-letter entry), while active, scheduled, waiting and dead-letter jobs within their
 * retention stay; moved jobs keep their first home; a dead-letter retry racing the removal is never
 * lost; one housekeeper acts at a time and a new one carries on; a removed job never shows up again,
 * not even in a process that has its segment cached.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import type { HousekeepingOptions, RetentionDefaults } from "../../src/core/storage-options.js";
import { decodeJobId, Store } from "../../src/core/ids.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { keyToken } from "../../src/store/infra/topology.js";
import type { JobView } from "../../src/store/jobs/view.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

/** Housekeeping that looks often, so a test waits milliseconds, not minutes. */
export const fastHousekeeping: HousekeepingOptions = {
  walkIntervalMs: 50,
  tickMs: 25,
  journalGraceMs: 200,
  activeRecheckMaxMs: 200,
  delaySlackMs: 50,
  holdRecheckMs: 200,
  leaseMs: 600,
};
const tiny: Partial<RetentionDefaults> = { completedMs: 200, discardedMs: 200, deadLetterMs: 60_000 };

async function isGone(engine: Engine, id: string): Promise<boolean> {
  try {
    await engine.get(id);
    return false;
  } catch (err) {
    if (isJetjobError(err) && err.code === ErrorCode.NotFound) return true;
    throw err;
  }
}

/** Whether the segment message is stored (asked of the stream leader, not a cache). */
async function stored(engine: Engine, store: Store, seq: number): Promise<boolean> {
  const t = engine.ctx.topology;
  const stream = store === Store.Queue ? t.streams.queue : t.streams.delay;
  return (await engine.ctx.jsm.streams.getMessage(stream, { seq })) !== null;
}

async function journalEntries(engine: Engine, store: Store, seq: number): Promise<number> {
  const subject = engine.ctx.subjects.journal(store, seq);
  const info = await engine.ctx.jsm.streams.info(engine.ctx.topology.streams.journal, {
    subjects_filter: subject,
  });
  return info.state.subjects?.[subject] ?? 0;
}

function homeOf(id: string): { store: Store; seq: number } {
  const d = decodeJobId(id);
  assert.ok(d, `not a derived id: ${id}`);
  return { store: d.store, seq: d.seq };
}

/** Enqueues a job, fetches it (it must be the one fetched), and returns it active. */
async function startJob(
  engine: Engine,
  body: Record<string, unknown>,
  visibilityMs = 60_000,
): Promise<JobView> {
  const job = await engine.enqueue(body);
  const queue = (body.options as { queue: string }).queue;
  const [got] = await engine.fetch({ queues: [queue], count: 1, workerId: "t", visibilityMs });
  assert.ok(got && got.id === job.id, `fetched ${got?.id}, not ${job.id}`);
  return got;
}

/** A job completed now and waited for until removed: proves the housekeeper ran a full round since. */
async function witness(engine: Engine, queue = "rt-witness"): Promise<void> {
  const w = await startJob(engine, { type: "t.witness", args: [], options: { queue } });
  await engine.ack(w.id, null);
  await waitFor(() => isGone(engine, w.id), { what: `witness ${w.id} removed` });
}

describe("retention", () => {
  let nc: NatsConnection;
  let engine: Engine;
  before(async () => {
    nc = await h.nats.connect("retention");
    engine = await createEngine(nc, { leaseMs: 600, retention: tiny, housekeeping: fastHousekeeping });
    await waitFor(() => engine.housekeeper?.leading, { what: "housekeeper elected" });
  });
  after(async () => {
    await engine.close();
    await nc.close();
  });

  it("completed and discarded jobs disappear after their retention: job, segment, journal, dead-letter entry", async () => {
    const q = "rt-basic";
    const done = await startJob(engine, { type: "t.a", args: [1], options: { queue: q } });
    await engine.ack(done.id, { ok: true });
    const failed = await startJob(engine, {
      type: "t.a",
      args: [2],
      options: { queue: q, retry: { max_attempts: 1 } },
    });
    await engine.nack(failed.id, { error: { code: "boom", message: "no" } });
    const dead = await startJob(engine, {
      type: "t.a",
      args: [3],
      options: { queue: q, retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    });
    await engine.nack(dead.id, { error: { code: "boom", message: "dead" } });
    const shortDead = await startJob(engine, {
      type: "t.a",
      args: [4],
      options: {
        queue: q,
        retry: { max_attempts: 1, on_exhaustion: "dead_letter" },
        retention: { dead_letter_ms: 200 },
      },
    });
    await engine.nack(shortDead.id, { error: { code: "boom", message: "dead soon" } });
    assert.equal((await engine.deadLetters({ queue: q, limit: 10, offset: 0 })).total, 2);

    for (const id of [done.id, failed.id, shortDead.id]) {
      await waitFor(() => isGone(engine, id), { what: `job ${id} removed` });
      const home = homeOf(id);
      assert.equal(await stored(engine, home.store, home.seq), false, "segment deleted");
      await waitFor(async () => (await journalEntries(engine, home.store, home.seq)) === 0, {
        what: `journal of ${id} purged`,
      });
    }
    // The dead letter within its retention stays, listed; the other one left the index with its job.
    assert.equal((await engine.get(dead.id)).state, "discarded");
    const dl = await engine.deadLetters({ queue: q, limit: 10, offset: 0 });
    assert.deepEqual(
      dl.jobs.map((j) => j.id),
      [dead.id],
    );
    const key = `${q.replaceAll(".", "_")}.${shortDead.id}`;
    assert.equal(await engine.ctx.buckets.dlq.get(key), null, "dead-letter entry erased");
    assert.ok(engine.housekeeper!.stats.removedJobs >= 3);
  });

  it("active, scheduled and waiting jobs stay; a long-running job holds its lane until it finished", async () => {
    const q = "rt-hold";
    const running = await startJob(engine, { type: "t.long", args: [], options: { queue: q } });
    const later = await startJob(engine, { type: "t.short", args: [], options: { queue: q } });
    await engine.ack(later.id, "fast");
    const scheduled = await engine.enqueue({
      type: "t.s",
      args: [],
      options: { queue: q, scheduled_at: "+PT1H" },
    });
    const waiting = await engine.enqueue({ type: "t.w", args: [], options: { queue: "rt-waiting" } });
    await witness(engine);
    await witness(engine);
    assert.equal((await engine.get(running.id)).state, "active");
    assert.equal((await engine.get(scheduled.id)).state, "scheduled");
    assert.equal((await engine.get(waiting.id)).state, "available");
    // Behind the running job in its lane, and kept with it (a job is kept at least its retention).
    assert.equal((await engine.get(later.id)).state, "completed");
    const lane = (await engine.storage()).housekeeper.lanes.find((l) => l.queue === q);
    assert.ok(lane && lane.cursor < homeOf(running.id).seq, `cursor ${lane?.cursor} passed the running job`);

    await engine.ack(running.id, "slow");
    await waitFor(() => isGone(engine, running.id), { what: "the long job removed" });
    await waitFor(() => isGone(engine, later.id), { what: "the job behind it removed" });
    await witness(engine);
    assert.equal((await engine.get(scheduled.id)).state, "scheduled");
    assert.equal((await engine.get(waiting.id)).state, "available");
  });

  it("a retried job is kept until it finishes plus its retention; its first home is not removed early", async () => {
    const q = "rt-retry";
    const job = await startJob(engine, {
      type: "t.r",
      args: [],
      options: { queue: q, retry: { max_attempts: 2, initial_interval_ms: 50, jitter: false } },
    });
    await engine.nack(job.id, { error: { code: "flaky", message: "again" } });
    const home = homeOf(job.id);
    await waitFor(async () => (await engine.get(job.id)).state === "available", { what: "retry promoted" });
    await witness(engine);
    await witness(engine);
    assert.equal((await engine.get(job.id)).state, "available");
    assert.ok(await stored(engine, home.store, home.seq), "first home kept while the job waits");
    const [again] = await engine.fetch({ queues: [q], count: 1, workerId: "t" });
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempt, 2);
    const now = await engine.svc.locator.locate(job.id);
    assert.ok(now && now.home);
    await engine.ack(job.id, "finally");
    await waitFor(() => isGone(engine, job.id), { what: "retried job removed" });
    await waitFor(async () => !(await stored(engine, home.store, home.seq)), { what: "first home removed" });
    await waitFor(async () => !(await stored(engine, now.at.store, now.at.seq)), {
      what: "last copy removed",
    });
  });

  it("a job's own retention overrides its queue's", async () => {
    const q = "rt-override";
    await engine.configureQueue(q, { retention: { completed_ms: 60_000 } });
    const short = await startJob(engine, {
      type: "t.o",
      args: [],
      options: { queue: q, retention: { completed_ms: 100 } },
    });
    await engine.ack(short.id, null);
    const kept = await startJob(engine, { type: "t.o", args: [], options: { queue: `${q}-2` } });
    await engine.configureQueue(`${q}-2`, { retention: { completed_ms: 60_000 } });
    await engine.ack(kept.id, null);
    await waitFor(() => isGone(engine, short.id), { what: "short-lived job removed" });
    await witness(engine);
    assert.equal((await engine.get(kept.id)).state, "completed");
  });

  it("a queue's count limit keeps about that many completed jobs, oldest go first", async () => {
    const q = "rt-count";
    await engine.configureQueue(q, { retention: { completed_ms: 60_000, completed_count: 2 } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const j = await startJob(engine, { type: "t.c", args: [i], options: { queue: q } });
      await engine.ack(j.id, i);
      ids.push(j.id);
    }
    for (const id of ids.slice(0, 4))
      await waitFor(() => isGone(engine, id), { what: `job ${id} removed by count` });
    for (const id of ids.slice(4)) assert.equal((await engine.get(id)).state, "completed");
  });

  it("a dead-letter retry racing the removal either revives the job or finds it gone, never loses it", async () => {
    const q = "rt-race";
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const j = await startJob(engine, {
        type: "t.d",
        args: [i],
        options: {
          queue: q,
          retry: { max_attempts: 1, on_exhaustion: "dead_letter" },
          retention: { dead_letter_ms: 150 },
        },
      });
      await engine.nack(j.id, { error: { code: "x", message: "dead" } });
      ids.push(j.id);
    }
    const outcome = await Promise.all(
      ids.map(async (id, i) => {
        await new Promise((r) => setTimeout(r, (i % 12) * 25));
        try {
          await engine.retryDeadLetter(id);
          return "revived" as const;
        } catch (err) {
          if (isJetjobError(err) && err.code === ErrorCode.NotFound) return "gone" as const;
          throw err;
        }
      }),
    );
    const revived = ids.filter((_, i) => outcome[i] === "revived");
    for (const [i, id] of ids.entries()) {
      if (outcome[i] === "gone") await waitFor(() => isGone(engine, id), { what: `${id} gone for good` });
    }
    // Every revived job is there, and runs: a worker gets each of them exactly once.
    for (const id of revived) assert.equal((await engine.get(id)).state, "available", id);
    const fetched = new Set<string>();
    await waitFor(
      async () => {
        for (const j of await engine.fetch({ queues: [q], count: 50, workerId: "t" })) {
          fetched.add(j.id);
          await engine.ack(j.id, null);
        }
        return fetched.size >= revived.length;
      },
      { what: "revived jobs fetched" },
    );
    assert.deepEqual([...fetched].sort(), [...revived].sort());
  });

  it("an exclusive key leaves nothing behind once its jobs are removed, and works again after", async () => {
    const key = "rt-key-1";
    const token = keyToken(key);
    const bucket = engine.ctx.topology.buckets.xkeys;
    const subjectsOfKey = async () => {
      const info = await engine.ctx.jsm.streams.info(`KV_${bucket}`, { subjects_filter: `$KV.${bucket}.>` });
      return Object.keys(info.state.subjects ?? {}).filter((s) => s.includes(token));
    };
    const runAll = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++)
        ids.push(
          (
            await engine.enqueue({
              type: "t.x",
              args: [i],
              options: { queue: "rt-xkey", exclusive_key: key },
            })
          ).id,
        );
      for (const id of ids) {
        // One at a time: the key's holder is the only one that can be fetched.
        const [got] = await waitFor(
          async () => {
            const f = await engine.fetch({ queues: ["rt-xkey"], count: 5, workerId: "t" });
            return f.length > 0 ? f : undefined;
          },
          { what: `holder ${id} fetchable` },
        );
        assert.equal(got!.id, id, "the key is handed on in enqueue order");
        await engine.ack(id, null);
      }
      return ids;
    };
    const first = await runAll(3);
    // Per-key lines keep a record while the key is in use; the sequencer keeps keys in memory.
    if (!engine.ctx.sequencer)
      assert.ok((await subjectsOfKey()).length > 0, "the key has a record while in use");
    for (const id of first) await waitFor(() => isGone(engine, id), { what: `job ${id} removed` });
    let left: string[] = [];
    await waitFor(async () => (left = await subjectsOfKey()).length === 0, {
      what: "the key's record and marker erased (no delete markers left)",
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}; left: ${left.join(", ")}`);
    });
    // Used again from scratch: the next jobs still run one at a time in order.
    const again = await runAll(2);
    for (const id of again) assert.equal((await engine.get(id)).state, "completed");
  });

  it("a released lock leaves no entry (not even a delete marker)", async () => {
    const bucket = engine.ctx.topology.buckets.locks;
    const grant = await engine.locks.acquire({ name: "rt-lock", ttlMs: 5000 });
    await engine.locks.release("rt-lock", grant.token);
    const info = await engine.ctx.jsm.streams.info(`KV_${bucket}`, { subjects_filter: `$KV.${bucket}.>` });
    assert.deepEqual(Object.keys(info.state.subjects ?? {}), []);
    const again = await engine.locks.acquire({ name: "rt-lock", ttlMs: 5000 });
    await engine.locks.release("rt-lock", again.token);
  });

  it("a removed job never shows up again, even where its segment is cached", async () => {
    const nc2 = await h.nats.connect("reader");
    const reader = await createEngine(nc2, { background: false });
    try {
      const j = await startJob(engine, { type: "t.cache", args: [], options: { queue: "rt-cache" } });
      await engine.ack(j.id, "x");
      assert.equal((await reader.get(j.id)).state, "completed"); // the reader caches the segment
      const home = homeOf(j.id);
      await waitFor(() => isGone(engine, j.id), { what: "removed" });
      await waitFor(async () => (await journalEntries(engine, home.store, home.seq)) === 0, {
        what: "journal purged",
      });
      await assert.rejects(reader.get(j.id), (e) => isJetjobError(e) && e.code === ErrorCode.NotFound);
      await assert.rejects(reader.cancel(j.id), (e) => isJetjobError(e) && e.code === ErrorCode.NotFound);
      assert.equal(
        await journalEntries(engine, home.store, home.seq),
        0,
        "nothing written for a removed job",
      );
    } finally {
      await reader.close();
      await nc2.close();
    }
  });

  it("the storage report lists streams and buckets, the housekeeper and what is due next", async () => {
    const s = await engine.storage();
    const names = s.resources.map((r) => r.name);
    for (const n of [
      "JJ_QUEUE",
      "JJ_DELAY",
      "JJ_JOURNAL",
      "JJ_EVENTS",
      "JJ_FLEET",
      "JJ_GC",
      "KV_jj_ids",
      "KV_jj_dlq",
    ])
      assert.ok(names.includes(n), n);
    const events = s.resources.find((r) => r.name === "JJ_EVENTS")!;
    assert.equal(events.max_age_ms, 24 * 3600_000);
    assert.ok(events.messages > 0 && events.oldest_at !== undefined);
    assert.equal(s.housekeeper.leader, engine.ctx.instanceId);
    assert.equal(s.housekeeper.this_server, true);
    assert.ok(s.housekeeper.lanes.some((l) => l.queue === "rt-basic" && l.cursor > 0));
    assert.equal(s.retention.defaults.completed_ms, 200);
    assert.ok(s.retention.queues.some((q) => q.name === "rt-count" && q.retention.completed_count === 2));
    assert.ok(s.next_removals.checks >= 1, "the scheduled job's check is pending");
    assert.ok(s.next_removals.due.length >= 1);
  });
});

describe("housekeeping across several servers", () => {
  it("one housekeeper acts at a time; when it stops another carries on without a gap", async () => {
    const ncA = await h.nats.connect("hk-a");
    const ncB = await h.nats.connect("hk-b");
    const a = await createEngine(ncA, { leaseMs: 600, retention: tiny, housekeeping: fastHousekeeping });
    const b = await createEngine(ncB, { leaseMs: 600, retention: tiny, housekeeping: fastHousekeeping });
    let sampling = true;
    let both = 0;
    const sampler = (async () => {
      while (sampling) {
        if (a.housekeeper!.leading && b.housekeeper!.leading) both++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      const leader = await waitFor(
        () => (a.housekeeper!.leading ? a : b.housekeeper!.leading ? b : undefined),
        {
          what: "a leader",
        },
      );
      const other = leader === a ? b : a;
      const first: string[] = [];
      for (let i = 0; i < 5; i++) {
        const j = await startJob(leader, { type: "t.hk", args: [i], options: { queue: "rt-hk" } });
        await leader.ack(j.id, i);
        first.push(j.id);
      }
      for (const id of first) await waitFor(() => isGone(other, id), { what: `${id} removed` });
      // Jobs finished just before the leader stops are removed by the next one.
      const second: string[] = [];
      for (let i = 0; i < 5; i++) {
        const j = await startJob(other, { type: "t.hk", args: [i], options: { queue: "rt-hk" } });
        await other.ack(j.id, i);
        second.push(j.id);
      }
      await leader.close();
      await waitFor(() => other.housekeeper!.leading, { what: "the other server takes over" });
      for (const id of second)
        await waitFor(() => isGone(other, id), { what: `${id} removed after the change` });
      const removed = a.housekeeper!.stats.removedSegments + b.housekeeper!.stats.removedSegments;
      assert.equal(removed, 10, "each segment removed once");
      assert.equal(both, 0, "never two housekeepers at once");
    } finally {
      sampling = false;
      await sampler;
      await a.close();
      await b.close();
      await ncA.close();
      await ncB.close();
    }
  });

  it("changed stream limits are applied to existing streams on start-up, keeping their data", async () => {
    const nc1 = await h.nats.connect("limits-1");
    const e1 = await createEngine(nc1, {
      background: false,
      topology: { prefix: "lim", eventsMaxAgeMs: 3_600_000 },
    });
    await e1.enqueue({ type: "t.l", args: [], options: { queue: "lim" } });
    const stream = e1.ctx.topology.streams.events;
    await waitFor(async () => (await e1.ctx.jsm.streams.info(stream)).state.messages > 0, {
      what: "an event",
    });
    const before = (await e1.ctx.jsm.streams.info(stream)).state.messages;
    await e1.close();
    await nc1.close();
    const nc2 = await h.nats.connect("limits-2");
    const e2 = await createEngine(nc2, {
      background: false,
      topology: { prefix: "lim", eventsMaxAgeMs: 7_200_000, eventsMaxBytes: 32 * 1024 * 1024 },
    });
    try {
      const info = await e2.ctx.jsm.streams.info(stream);
      assert.equal(info.config.max_age, 7_200_000 * 1e6);
      assert.equal(info.config.max_bytes, 32 * 1024 * 1024);
      assert.equal(info.state.messages, before, "no data lost");
      const gc = await e2.ctx.jsm.streams.info(e2.ctx.topology.streams.gc);
      assert.equal(gc.config.max_age, 0, "removal checks never age out");
      const fleet = await e2.ctx.jsm.streams.info(e2.ctx.topology.streams.fleet);
      assert.ok(fleet.config.max_age >= 8 * 86_400_000 * 1e6, "fleet backstop beyond the fleet retention");
      // A worker or client that starts with the default topology leaves the configured limits alone.
      const nc3 = await h.nats.connect("limits-3");
      const e3 = await createEngine(nc3, { background: false, topology: { prefix: "lim" } });
      assert.equal((await e3.ctx.jsm.streams.info(stream)).config.max_age, 7_200_000 * 1e6);
      await e3.close();
      await nc3.close();
    } finally {
      await e2.close();
      await nc2.close();
    }
  });
});
