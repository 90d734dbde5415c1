/**
 * Keeping a full JetStream store from wedging jetjob.
 *
 * When JetStream's storage is full, every write fails ("insufficient resources"): not only new
 * jobs, but also the claims and outcomes of jobs already stored, and housekeeping's own writes, so
 * nothing could ever finish or be removed to make room. So new work is refused *before* the store is
 * full: enqueues (and new fleet jobs) are refused with `storage_full` once the store is within its
 * reserve of its capacity, and the reserve stays for what running jobs still have to write. With the
 * capacity unknown (an external NATS that reports none and was not given one), each refused write
 * turns the same refusal on for a few seconds.
 *
 * Usage is JetStream's account report (`storage` bytes), read at most once a second and only while
 * someone asks; capacity comes from `storageCapacityBytes` (`jetjob start` measures it when it starts
 * nats-server; `--storage-max-bytes` elsewhere) or the account's `max_storage` limit.
 */
import type { JetStreamManager } from "@nats-io/jetstream";

import { ErrorCode, JetjobError } from "../../core/errors.js";

/** The share of the capacity kept for what stored jobs still have to write. */
export const STORAGE_RESERVE_SHARE = 0.1;
/** ... and at least this much. */
export const STORAGE_RESERVE_MIN_BYTES = 4 * 1024 * 1024;
/** How long a refused write keeps new work refused when the capacity is unknown. */
const FULL_MEMORY_MS = 5000;
const REFRESH_MS = 1000;

export interface StorageStatus {
  /** Bytes JetStream stores for this account. */
  usedBytes: number | undefined;
  capacityBytes: number | undefined;
  /** Room kept for running jobs' writes. */
  reserveBytes: number | undefined;
  /** New jobs are refused now. */
  full: boolean;
  /** When a write was last refused for lack of storage (epoch ms). */
  lastRefusedAt: number | undefined;
}

export interface StorageGuard {
  /** Throws `storage_full` when new work must be refused now (cheap: a cached reading). */
  admit(): void;
  /** A write was refused for lack of storage (called by the publisher). */
  noteRefused(): void;
  /** A write of about `bytes` was stored (called by the publisher: keeps the reading current between reads). */
  noteWritten(bytes: number): void;
  /** A fresh reading (for health checks and reports). */
  status(): Promise<StorageStatus>;
  readonly capacityBytes: number | undefined;
}

export function reserveFor(capacityBytes: number): number {
  return Math.min(
    Math.floor(capacityBytes / 2),
    Math.max(STORAGE_RESERVE_MIN_BYTES, Math.floor(capacityBytes * STORAGE_RESERVE_SHARE)),
  );
}

export function storageFullError(s: Pick<StorageStatus, "usedBytes" | "capacityBytes">): JetjobError {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  const how =
    s.usedBytes !== undefined && s.capacityBytes !== undefined
      ? ` (${mib(s.usedBytes)} of ${mib(s.capacityBytes)} used)`
      : "";
  return new JetjobError(ErrorCode.StorageFull, `JetStream's storage is full${how}: new jobs are refused.`, {
    retryable: true,
    hint:
      "Jobs already stored still run and finish. Space comes back as housekeeping removes finished jobs " +
      "after their retention (`jetjob storage` shows what goes next; shorten it with --retain-*), or " +
      "give JetStream more room (disk, max_file_store; `jetjob start` measures the disk when it starts).",
    details: {
      ...(s.usedBytes === undefined ? {} : { used_bytes: s.usedBytes }),
      ...(s.capacityBytes === undefined ? {} : { capacity_bytes: s.capacityBytes }),
    },
  });
}

export function createStorageGuard(jsm: JetStreamManager, capacityBytes: number | undefined): StorageGuard {
  let capacity = capacityBytes;
  let used: number | undefined;
  /** Bytes written since the last reading began (usage moves faster than once a second). */
  let written = 0;
  let readAt = 0;
  let reading: Promise<void> | undefined;
  let refusedAt: number | undefined;

  const read = (): Promise<void> =>
    (reading ??= (async () => {
      try {
        const before = written;
        const info = await jsm.getAccountInfo();
        used = info.storage;
        written -= before; // what the reading already counts

        if (capacityBytes === undefined && info.limits.max_storage > 0) capacity = info.limits.max_storage;
        readAt = Date.now();
      } catch {
        // Keep the last reading; the backend's own errors speak for themselves.
      } finally {
        reading = undefined;
      }
    })());

  const full = (now: number): boolean => {
    if (capacity !== undefined)
      return used !== undefined && used + written >= capacity - reserveFor(capacity);
    // Unknown capacity: refused for a while after each refused write, then new work may try again.
    return refusedAt !== undefined && now - refusedAt < FULL_MEMORY_MS;
  };

  return {
    get capacityBytes() {
      return capacity;
    },
    admit() {
      const now = Date.now();
      if (now - readAt > REFRESH_MS) void read();
      if (full(now))
        throw storageFullError({
          usedBytes: used === undefined ? undefined : used + written,
          capacityBytes: capacity,
        });
    },
    noteWritten(bytes) {
      written += bytes;
    },
    noteRefused() {
      refusedAt = Date.now();
      void read();
    },
    async status() {
      await read();
      return {
        usedBytes: used === undefined ? undefined : used + written,
        capacityBytes: capacity,
        reserveBytes: capacity === undefined ? undefined : reserveFor(capacity),
        full: full(Date.now()),
        lastRefusedAt: refusedAt,
      };
    },
  };
}
