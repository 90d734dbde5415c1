/**
 * JSON records in a KV bucket read and written through the shared inbox (direct get, pipelined
 * publish with compare-and-set), for KV entries on a busy path. It is the same data as `kv.get` and
 * `kv.update` see: the bucket's stream `KV_<bucket>`, subject `$KV.<bucket>.<key>`. The stock client
 * builds a promise, a timer and two error objects (with stack traces) per call, which shows up in
 * profiles when every job touches the bucket a few times.
 */
import type { StoreContext } from "./context.js";

export interface FastRecord<T> {
  /** Undefined when the key was deleted or never written. */
  value: T | undefined;
  /** Sequence of the key's last message (0: none); the compare-and-set token. */
  revision: number;
}

export interface FastKv<T> {
  get(key: string): Promise<FastRecord<T>>;
  /** Writes only if the key's last message is still `revision`; throws WrongSequenceError (nats/publisher.ts). */
  update(key: string, value: T, revision: number): Promise<number>;
  /** Writes unconditionally. */
  put(key: string, value: T): Promise<number>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function fastKv<T>(ctx: Pick<StoreContext, "reader" | "publisher">, bucket: string): FastKv<T> {
  const stream = `KV_${bucket}`;
  const subject = (key: string) => `$KV.${bucket}.${key}`;
  return {
    async get(key) {
      const m = await ctx.reader.get(stream, { lastBySubject: subject(key) });
      if (!m) return { value: undefined, revision: 0 };
      const op = m.headers?.get("KV-Operation");
      if (op === "DEL" || op === "PURGE" || m.data.length === 0) return { value: undefined, revision: m.seq };
      try {
        return { value: JSON.parse(dec.decode(m.data)) as T, revision: m.seq };
      } catch {
        return { value: undefined, revision: m.seq };
      }
    },
    async update(key, value, revision) {
      const ack = await ctx.publisher.publish(subject(key), enc.encode(JSON.stringify(value)), {
        expectedLastSubjectSeq: revision,
      });
      return ack.seq;
    },
    async put(key, value) {
      return (await ctx.publisher.publish(subject(key), enc.encode(JSON.stringify(value)))).seq;
    },
  };
}
