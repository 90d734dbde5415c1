/**
 * How much a local nats-server's JetStream may store. nats-server's own default is 75% of the disk's
 * free space *at start*, which counts data it already stored against it: restarted on a disk its
 * data fills half of, it could find itself full at once. `jetjob start` gives it an explicit
 * `max_file_store` instead: what is stored already plus 75% of what is free, so the limit is the
 * same on every start and jetjob knows it (store/infra/storage-guard.ts refuses new jobs before it is hit).
 */
import { mkdirSync, readdirSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";

/** Share of the free disk space JetStream may use (nats-server's own default). */
export const FREE_SPACE_SHARE = 0.75;

/** Bytes in files under `dir` (0 when it does not exist). */
export function bytesUnder(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += bytesUnder(p);
    else if (e.isFile()) {
      try {
        total += statSync(p).size;
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}

/** The storage limit for a JetStream store in `storeDir`: what it holds plus 75% of the free space. */
export function measureStoreCapacity(storeDir: string): number {
  mkdirSync(storeDir, { recursive: true });
  const fs = statfsSync(storeDir);
  return bytesUnder(storeDir) + Math.floor(fs.bavail * fs.bsize * FREE_SPACE_SHARE);
}
