/** Fleet job ids: UUIDv7 whose store bits say "fleet record", so one id space serves every job. */
import { randomInt } from "node:crypto";

import { decodeJobId, encodeJobId, Store } from "../core/ids.js";

export function newFleetId(now = Date.now()): string {
  return encodeJobId({
    store: Store.Fleet,
    seq: randomInt(1, 2 ** 40 - 1),
    idx: randomInt(0, 1024),
    rnd: randomInt(0, 0x100000),
    timeMs: now,
  });
}

/** Whether an id may name a fleet job (client-chosen ids of queue jobs can look alike: check both). */
export function isFleetId(id: string): boolean {
  return decodeJobId(id)?.store === Store.Fleet;
}
