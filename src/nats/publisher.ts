/**
 * Pipelined JetStream publishing over a shared reply inbox (see inbox.ts), with JetStream's
 * expected-sequence headers for compare-and-set writes and `Nats-Msg-Id` for idempotent retries.
 */
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { ClosedConnectionError, DrainingConnectionError, headers as newHeaders } from "@nats-io/nats-core";

import { BackendError, ErrorCode, JetjobError } from "../core/errors.js";
import type { SharedInbox } from "./inbox.js";

/** What JetStream answered to a publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface PublishOptions {
  /** `Nats-Msg-Id`: JetStream drops a second message with the same id within the duplicate window. */
  msgId?: string;
  /** Compare-and-set: the last sequence stored on this subject must be this (0 = no message yet). */
  expectedLastSubjectSeq?: number;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** JetStream rejected a compare-and-set write (someone wrote the subject first). */
export class WrongSequenceError extends JetjobError {
  override name = "WrongSequenceError";
  constructor(message: string) {
    super(ErrorCode.Conflict, message);
  }
}

export interface Publisher {
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PubAck>;
}

const textDecoder = new TextDecoder();

/** JetStream API error codes we branch on (translated here, once). */
const JS_WRONG_LAST_SEQUENCE = 10071;
const JS_MAX_PAYLOAD = 10054;
const JS_NO_STREAM = 10076;
/** The store is at its limit ("insufficient resources"; a reservation that does not fit: 10047). */
const JS_INSUFFICIENT_RESOURCES = 10023;
const JS_STORAGE_RESOURCES_EXCEEDED = 10047;

/** Whether a JetStream API error code means the store is full. */
export function isStorageFullCode(errCode: number | undefined): boolean {
  return errCode === JS_INSUFFICIENT_RESOURCES || errCode === JS_STORAGE_RESOURCES_EXCEEDED;
}

/** What the storage guard (store/infra/storage-guard.ts) learns from writes. */
export interface WriteObserver {
  /** A message of about `bytes` (payload, subject and per-message overhead) was stored. */
  written(bytes: number): void;
  /** JetStream refused a write for lack of storage (the write throws `storage_full`). */
  refused(): void;
  /** No stream answered a write (deleted, or without a leader for a moment). */
  unanswered(): void;
}

/** JetStream's per-message overhead in its file store, roughly (headers, index, checksum). */
const STORED_OVERHEAD_BYTES = 64;

export function createPublisher(nc: NatsConnection, inbox: SharedInbox, observer?: WriteObserver): Publisher {
  return {
    async publish(subject, data, options) {
      const maxPayload = nc.info?.max_payload;
      if (maxPayload !== undefined && data.length > maxPayload) {
        throw new JetjobError(
          ErrorCode.PayloadTooLarge,
          `message of ${data.length} bytes exceeds the NATS server's max_payload of ${maxPayload} bytes`,
        );
      }
      const { reply, reply$, cancel } = inbox.prepare();
      const hdrs = options ? buildHeaders(options) : undefined;
      try {
        nc.publish(subject, data, hdrs ? { reply, headers: hdrs } : { reply });
      } catch (err) {
        cancel();
        throw translatePublishError(err);
      }
      const msg = await reply$;
      if (msg.headers?.code === 503) {
        // No responders: the stream does not exist, or (in a cluster) it has no leader while one is
        // elected after a server was lost. Both are worth a retry after a moment.
        observer?.unanswered();
        throw new BackendError(
          `no JetStream stream answered on ${subject}: it has no leader right now (an election after a server was lost) or does not exist; retry shortly`,
          { retryable: true },
        );
      }
      let ack: PubAck;
      try {
        ack = parsePubAck(msg.data, subject);
      } catch (err) {
        if (err instanceof JetjobError && err.code === ErrorCode.StorageFull) observer?.refused();
        throw err;
      }
      if (!ack.duplicate) observer?.written(data.length + subject.length + STORED_OVERHEAD_BYTES);
      return ack;
    },
  };
}

function buildHeaders(o: PublishOptions): MsgHdrs | undefined {
  if (o.msgId === undefined && o.expectedLastSubjectSeq === undefined && o.headers === undefined)
    return undefined;
  const h = newHeaders();
  if (o.msgId !== undefined) h.set("Nats-Msg-Id", o.msgId);
  if (o.expectedLastSubjectSeq !== undefined) {
    h.set("Nats-Expected-Last-Subject-Sequence", String(o.expectedLastSubjectSeq));
  }
  if (o.headers) for (const [k, v] of Object.entries(o.headers)) h.set(k, v);
  return h;
}

interface RawPubAck {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

function parsePubAck(data: Uint8Array, subject: string): PubAck {
  let raw: RawPubAck;
  try {
    raw = JSON.parse(textDecoder.decode(data)) as RawPubAck;
  } catch (err) {
    throw new BackendError(`unreadable JetStream reply for ${subject}`, { cause: err });
  }
  if (raw.error) {
    const desc = raw.error.description ?? "unknown JetStream error";
    if (raw.error.err_code === JS_WRONG_LAST_SEQUENCE) throw new WrongSequenceError(desc);
    if (raw.error.err_code === JS_MAX_PAYLOAD) {
      throw new JetjobError(ErrorCode.PayloadTooLarge, `message too large for JetStream: ${desc}`);
    }
    if (raw.error.err_code === JS_NO_STREAM) throw new BackendError(`no stream for ${subject}: ${desc}`);
    if (isStorageFullCode(raw.error.err_code)) {
      throw new JetjobError(
        ErrorCode.StorageFull,
        `JetStream's storage is full (${desc}); a write to ${subject} was refused`,
        {
          retryable: true,
          details: { err_code: raw.error.err_code },
        },
      );
    }
    throw new BackendError(`JetStream rejected a write to ${subject}: ${desc}`, {
      details: { err_code: raw.error.err_code, code: raw.error.code },
    });
  }
  if (typeof raw.seq !== "number" || typeof raw.stream !== "string") {
    throw new BackendError(`unexpected JetStream reply for ${subject}`);
  }
  return { stream: raw.stream, seq: raw.seq, duplicate: raw.duplicate === true };
}

function translatePublishError(err: unknown): JetjobError {
  if (err instanceof JetjobError) return err;
  if (err instanceof ClosedConnectionError || err instanceof DrainingConnectionError) {
    return new JetjobError(ErrorCode.Closed, "the NATS connection is closed", { cause: err });
  }
  return new BackendError(`publish failed: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}
