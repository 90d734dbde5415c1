/**
 * Reading single stored messages from a stream by sequence or by subject, pipelined over the shared
 * inbox. Uses JetStream's direct-get API (`$JS.API.DIRECT.GET`), which answers with the raw message.
 */
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";

import { BackendError } from "../core/errors.js";
import type { SharedInbox } from "./inbox.js";

/** A message as stored in a stream. */
export interface StoredMessage {
  subject: string;
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** Store time, epoch ms. */
  timeMs: number;
}

/** Which message to read: by sequence, the first at or after `seq` on a subject, or the last on one. */
export type MessageQuery =
  { seq: number } | { nextBySubject: string; seq?: number } | { lastBySubject: string };

export interface StreamReader {
  /** The message, or `undefined` when there is none. */
  get(stream: string, query: MessageQuery): Promise<StoredMessage | undefined>;
  /** Every message on a literal subject, in order, starting at `fromSeq`. */
  all(stream: string, subject: string, fromSeq?: number, limit?: number): Promise<StoredMessage[]>;
}

const textEncoder = new TextEncoder();

export function createStreamReader(nc: NatsConnection, inbox: SharedInbox): StreamReader {
  async function get(stream: string, query: MessageQuery): Promise<StoredMessage | undefined> {
    // The last message on a literal subject is asked for with the subject in the API subject (as KV
    // gets are), so NATS permissions can allow reading exactly that subject (access/permissions.ts).
    const literalLast = "lastBySubject" in query && !/(^|\.)[*>](\.|$)/.test(query.lastBySubject);
    const body =
      "lastBySubject" in query
        ? { last_by_subj: query.lastBySubject }
        : "nextBySubject" in query
          ? { next_by_subj: query.nextBySubject, seq: query.seq ?? 0 }
          : { seq: query.seq };
    const { reply, reply$, cancel } = inbox.prepare();
    try {
      if (literalLast)
        nc.publish(`$JS.API.DIRECT.GET.${stream}.${query.lastBySubject}`, undefined, { reply });
      else nc.publish(`$JS.API.DIRECT.GET.${stream}`, textEncoder.encode(JSON.stringify(body)), { reply });
    } catch (err) {
      cancel();
      throw new BackendError(`direct get on ${stream} failed`, { cause: err });
    }
    const msg = await reply$;
    const h = msg.headers;
    const code = h?.code ?? 0;
    if (code === 404) return undefined;
    if (code >= 300 || !h) {
      throw new BackendError(`direct get on ${stream} failed: ${code} ${h?.description ?? "no headers"}`);
    }
    const seq = Number(h.get("Nats-Sequence"));
    const subject = h.get("Nats-Subject");
    const ts = h.get("Nats-Time-Stamp");
    return { subject, seq, data: msg.data, headers: h, timeMs: ts ? Date.parse(ts) : 0 };
  }

  return {
    get,
    async all(stream, subject, fromSeq = 0, limit = 100_000) {
      const out: StoredMessage[] = [];
      let seq = fromSeq;
      while (out.length < limit) {
        const m = await get(stream, { nextBySubject: subject, seq });
        if (!m) break;
        out.push(m);
        seq = m.seq + 1;
      }
      return out;
    },
  };
}
