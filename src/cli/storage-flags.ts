/**
 * The storage flags of `jetjob server` and `jetjob start`: retention defaults and the recent-events
 * stream's bounds. One definition, mapped into the server's options here (docs/retention.md).
 */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";

import type { RetentionDefaults } from "../core/storage-options.js";
import { parseDurationText } from "../core/storage-options.js";
import type { TopologyOptions } from "../store/infra/topology.js";

export interface StorageFlags {
  retainCompleted?: number;
  retainDiscarded?: number;
  retainDeadLetters?: number;
  retainFleet?: number;
  eventsMaxAge?: number;
  eventsMaxBytes?: number;
  storageMaxBytes?: number;
}

/** A duration argument: `500ms`, `30s`, `15m`, `24h`, `7d`, `2w` or ISO 8601 (`P7D`). */
export function durationArg(v: string): number {
  const ms = parseDurationText(v);
  if (ms === undefined) throw new InvalidArgumentError("must be a duration such as 30m, 24h, 7d or P7D");
  return ms;
}

/** A size argument: bytes, or with a unit (`64MiB`, `1GiB`, `512KiB`; `MB` and `GB` are read the same). */
export function bytesArg(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError("must be a size such as 64MiB or 1GiB");
  const unit = (m[2] ?? "b").toLowerCase()[0]!;
  const scale = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  const n = Math.round(Number(m[1]) * scale);
  if (n < 1024) throw new InvalidArgumentError("must be at least 1KiB");
  return n;
}

export function addStorageFlags(cmd: Command): Command {
  return cmd
    .option("--retain-completed <duration>", "keep completed jobs this long (default 24h)", durationArg)
    .option(
      "--retain-discarded <duration>",
      "keep discarded, cancelled and expired jobs this long (default 7d)",
      durationArg,
    )
    .option("--retain-dead-letters <duration>", "keep dead letters this long (default 7d)", durationArg)
    .option(
      "--retain-fleet <duration>",
      "keep finished fleet jobs and their results this long (default 7d)",
      durationArg,
    )
    .option("--events-max-age <duration>", "keep lifecycle events this long (default 24h)", durationArg)
    .option(
      "--events-max-bytes <size>",
      "keep at most this much of lifecycle events (default 64MiB, at most a tenth of the storage)",
      bytesArg,
    )
    .option(
      "--storage-max-bytes <size>",
      "how much JetStream may store; new jobs are refused before it is full (default: jetjob start " +
        "measures its disk; jetjob server uses the account limit, else learns it when a write is refused)",
      bytesArg,
    );
}

/** The retention defaults the flags set (unset flags: the built-in defaults). */
export function retentionFromFlags(f: StorageFlags): Partial<RetentionDefaults> {
  const r: Partial<RetentionDefaults> = {};
  if (f.retainCompleted !== undefined) r.completedMs = f.retainCompleted;
  if (f.retainDiscarded !== undefined) r.discardedMs = f.retainDiscarded;
  if (f.retainDeadLetters !== undefined) r.deadLetterMs = f.retainDeadLetters;
  if (f.retainFleet !== undefined) r.fleetMs = f.retainFleet;
  return r;
}

/** The stream bounds the flags set; applied to existing streams at start-up. */
export function topologyFromFlags(f: StorageFlags): TopologyOptions {
  const t: TopologyOptions = {};
  if (f.eventsMaxAge !== undefined) t.eventsMaxAgeMs = f.eventsMaxAge;
  if (f.eventsMaxBytes !== undefined) t.eventsMaxBytes = f.eventsMaxBytes;
  return t;
}
