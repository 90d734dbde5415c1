/**
 * JSON records in NATS KV, with a compare-and-set update loop: read (with revision), change, write
 * only if nobody wrote in between, otherwise read again.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Bucket } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { BackendError } from "../../core/errors.js";
import { scanMessages } from "../../nats/scan.js";
import { AGAIN, casLoop, orAgain } from "./cas.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Versioned<T> {
  value: T;
  revision: number;
}

const kvKeyPattern = /^[-/=.\w]+$/;

/**
 * Whether NATS KV can store `key`: its client's rule (it throws a plain `Error` for others), plus no
 * empty subject token (`a..b`), which the client lets through and the server never answers.
 */
function isKvKey(key: string): boolean {
  return kvKeyPattern.test(key) && !key.startsWith(".") && !key.endsWith(".") && !key.includes("..");
}

/**
 * The record under `key`. A key KV cannot store (from a request: `%`, spaces, unicode) names nothing,
 * so it reads as absent instead of failing.
 */
export async function getJson<T>(kv: KV, key: string): Promise<Versioned<T> | undefined> {
  if (!isKvKey(key)) return undefined;
  const e = await kv.get(key);
  if (!e || e.operation !== "PUT") return undefined;
  try {
    return { value: JSON.parse(dec.decode(e.value)) as T, revision: e.revision };
  } catch {
    return undefined;
  }
}

export async function putJson(kv: KV, key: string, value: unknown): Promise<number> {
  return kv.put(key, enc.encode(JSON.stringify(value)));
}

/**
 * Updates a record with compare-and-set. `change` gets the current value (undefined when absent) and
 * returns the new one, or `undefined` to write nothing. Returns what is stored afterwards.
 */
export async function casUpdate<T>(
  kv: KV,
  key: string,
  change: (current: T | undefined) => T | undefined,
  tries?: number,
): Promise<T | undefined> {
  return casLoop<T | undefined>(
    async () => {
      const cur = await getJson<T>(kv, key);
      const next = change(cur?.value === undefined ? undefined : structuredClone(cur.value));
      if (next === undefined) return cur?.value;
      const data = enc.encode(JSON.stringify(next));
      const w = await orAgain(cur ? kv.update(key, data, cur.revision) : kv.create(key, data));
      return w === AGAIN ? AGAIN : next;
    },
    {
      ...(tries === undefined ? {} : { tries }),
      exhausted: () => {
        throw new BackendError(`could not update ${key}: too many concurrent changes`, { retryable: true });
      },
    },
  );
}

/**
 * Every stored key (optionally under a filter like `queue.>`), each once: the subjects of the
 * bucket's stream, which the server reports in one answer (paged past 100,000 subjects). Not
 * `kv.keys()`: that streams the keys through a consumer that, while records are being rewritten (a
 * cron record on each tick, a workflow on each step, a lock on each renewal), can repeat a key or end
 * before the last one, so a list showed a record twice or left one out.
 *
 * A key whose last write is a delete marker (`kv.delete`) is listed too: callers read each value
 * and skip the absent ones (records meant to go for good are erased, see {@link deleteForGood}).
 */
export async function keysOf(kv: KV, filter = ">"): Promise<string[]> {
  if (!(kv instanceof Bucket)) {
    const out = new Set<string>();
    for await (const k of await kv.keys(filter)) out.add(k);
    return [...out];
  }
  const prefix = `${kv.prefix}.`;
  const info = await kv.jsm.streams.info(kv.stream, { subjects_filter: `${prefix}${filter}` });
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
}

/**
 * Removes a key for good: KV `delete` and `purge` leave a marker per key that nats-server 2.10 keeps
 * forever, so keys that come and go by the million (dead letters, client ids, fleet jobs) would grow
 * the bucket without bound. Purging the key's subject in the bucket's stream leaves nothing. Nobody
 * watches these keys, so the missing marker is not missed.
 */
export async function eraseKey(
  jsm: JetStreamManager,
  bucket: string,
  key: string,
  /** Only if the key has not been written since this revision (a newer value stays). */
  upToRevision?: number,
): Promise<void> {
  if (!isKvKey(key)) return;
  const filter = `$KV.${bucket}.${key}`;
  await jsm.streams.purge(
    `KV_${bucket}`,
    upToRevision === undefined ? { filter } : { filter, seq: upToRevision + 1 },
  );
}

/**
 * KV `delete` with compare-and-set (throws on a wrong revision, like `kv.delete`), then the delete
 * marker it leaves is erased too (unless the key was written again meanwhile), so keys used once
 * (exclusive-key markers, released locks, dropped reservations) leave nothing behind.
 */
export async function deleteForGood(
  kv: KV,
  jsm: JetStreamManager,
  bucket: string,
  key: string,
  previousSeq?: number,
): Promise<void> {
  await kv.delete(key, previousSeq === undefined ? undefined : { previousSeq });
  const e = await kv.get(key);
  if (e && e.operation !== "PUT") await eraseKey(jsm, bucket, key, e.revision);
}

/**
 * Every current value of a bucket (JSON), read in one stream through an ordered consumer instead of
 * a get per key (nats/scan.ts): key → value. Deleted and unreadable entries are left out.
 */
export async function readAllJson<T>(nc: NatsConnection, bucket: string): Promise<Map<string, T>> {
  const prefix = `$KV.${bucket}.`;
  const out = new Map<string, T>();
  for (const m of await scanMessages(nc, `KV_${bucket}`, { subjects: `${prefix}>`, lastPerSubject: true })) {
    const op = m.headers?.get("KV-Operation");
    if (op === "DEL" || op === "PURGE") continue;
    try {
      out.set(m.subject.slice(prefix.length), JSON.parse(dec.decode(m.data)) as T);
    } catch {
      // not JSON: skipped
    }
  }
  return out;
}
