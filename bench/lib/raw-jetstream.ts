/**
 * Raw JetStream as the ceiling: what the stock client (@nats-io/jetstream) does with no job
 * bookkeeping at all, measured as in the reference (shared/reference/baseline-bullmq-jetstream.md):
 * a WorkQueue stream with file storage, one durable pull consumer read with
 * `consume({ max_messages: 1000 })`, every message acked, 100-byte messages, at most 2,000 PubAcks
 * outstanding, publisher and consumer in this one process, on a nats-server of its own per run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Consumer, ConsumerMessages } from "@nats-io/jetstream";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { natsServerPid } from "./memory.js";
import { nowMs, paced, pipelined, Progress } from "./progress.js";

export const RAW_PUBACKS_OUTSTANDING = 2000;
export const RAW_MESSAGE_BYTES = 100;

export interface RawJetStream {
  server: RunningNatsServer;
  serverPid: number | undefined;
  /** A fresh WorkQueue stream with one durable pull consumer. */
  stream(): Promise<{ subject: string; consumer: Consumer }>;
  publish(subject: string, data: Uint8Array): Promise<unknown>;
  close(): Promise<void>;
}

export async function openRawJetStream(): Promise<RawJetStream> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-raw-"));
  const server = await startNatsServer({ storeDir: dir, monitorPort: -1 });
  const nc = await connect({ servers: server.url, name: "bench-raw" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let n = 0;
  return {
    server,
    serverPid: natsServerPid(server),
    async stream() {
      const name = `RAW${n++}`;
      const subject = `raw.${name}`;
      await jsm.streams.add({
        name,
        subjects: [subject],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
      });
      await jsm.consumers.add(name, { durable_name: "work", ack_policy: AckPolicy.Explicit });
      return { subject, consumer: await js.consumers.get(name, "work") };
    },
    publish: (subject, data) => js.publish(subject, data),
    async close() {
      await nc.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const payload = new Uint8Array(RAW_MESSAGE_BYTES).fill(120);

/** Consumes and acks every message, calling `onMessage` with its data first; stop with `.stop()`. */
async function consumeAll(
  consumer: Consumer,
  onMessage: (data: Uint8Array) => void,
): Promise<ConsumerMessages> {
  const msgs = await consumer.consume({ max_messages: 1000 });
  void (async () => {
    for await (const m of msgs) {
      onMessage(m.data);
      m.ack();
    }
  })();
  return msgs;
}

/** publish + consume + ack of `jobs` messages after an untimed warm-up; messages/s. */
export async function rawThroughput(jobs: number, warmup: number): Promise<number> {
  const raw = await openRawJetStream();
  try {
    const { subject, consumer } = await raw.stream();
    const done = new Progress("raw JetStream publish+consume+ack");
    const msgs = await consumeAll(consumer, () => done.add());
    const publish = (n: number) =>
      pipelined(n, RAW_PUBACKS_OUTSTANDING, () => raw.publish(subject, payload)).catch((e: unknown) => {
        done.fail(e instanceof Error ? e : new Error(String(e)));
        throw e;
      });
    try {
      await publish(warmup);
      await done.reached(warmup);
      const t0 = performance.now();
      await Promise.all([publish(jobs), done.reached(warmup + jobs)]);
      return jobs / ((performance.now() - t0) / 1000);
    } finally {
      msgs.stop();
    }
  } finally {
    await raw.close();
  }
}

/** Publish only (no consumer reading), at most 2,000 PubAcks outstanding; messages/s. */
export async function rawPublishOnly(jobs: number, warmup: number): Promise<number> {
  const raw = await openRawJetStream();
  try {
    const { subject } = await raw.stream();
    await pipelined(warmup, RAW_PUBACKS_OUTSTANDING, () => raw.publish(subject, payload));
    const t0 = performance.now();
    await pipelined(jobs, RAW_PUBACKS_OUTSTANDING, () => raw.publish(subject, payload));
    return jobs / ((performance.now() - t0) / 1000);
  } finally {
    await raw.close();
  }
}

/**
 * Publish → receive latency: one publish every `intervalMs`, the send time in the message (padded to
 * 100 bytes); after `warmup` untimed messages, `count` timed ones. Returns the sorted latencies (ms).
 */
export async function rawLatency(count: number, warmup: number, intervalMs: number): Promise<number[]> {
  const raw = await openRawJetStream();
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  try {
    const { subject, consumer } = await raw.stream();
    const latencies: number[] = [];
    const got = new Progress("raw JetStream publish → receive");
    const msgs = await consumeAll(consumer, (data) => {
      const { t, w } = JSON.parse(dec.decode(data)) as { t: number; w: boolean };
      if (!w) latencies.push(nowMs() - t);
      got.add();
    });
    const send = (warm: boolean) => () => {
      const body = JSON.stringify({ t: nowMs(), w: warm });
      raw
        .publish(subject, enc.encode(body.padEnd(RAW_MESSAGE_BYTES)))
        .catch((e: unknown) => got.fail(e instanceof Error ? e : new Error(String(e))));
    };
    try {
      await paced(warmup, intervalMs, send(true));
      await got.reached(warmup);
      await paced(count, intervalMs, send(false));
      await got.reached(warmup + count);
      return latencies.sort((a, b) => a - b);
    } finally {
      msgs.stop();
    }
  } finally {
    await raw.close();
  }
}
