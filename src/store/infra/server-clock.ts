/**
 * The NATS server's clock, as seen from this process. Time-driven work that must happen once for the
 * whole deployment (promoting scheduled jobs, firing cron) is done by one leader; if the leader's own
 * clock ran fast or slow it would run everything early or late. Samples come from the leader's lease
 * renewals: the server stamps each stored message, so (stamp − local midpoint of the round trip) is
 * the offset, within half a round trip. A few samples are kept and the median is used.
 */
export interface ServerClock {
  /** Milliseconds since the epoch by the server's clock (the local clock until a sample arrives). */
  now(): number;
  /** Server clock minus local clock, in ms (0 until sampled). */
  readonly offsetMs: number;
  /** A message stored between `localBeforeMs` and `localAfterMs` (local clock) got `serverMs`. */
  sample(localBeforeMs: number, localAfterMs: number, serverMs: number): void;
}

const SAMPLES = 5;

export function createServerClock(): ServerClock {
  const samples: number[] = [];
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    get offsetMs() {
      return offset;
    },
    sample(before, after, server) {
      if (!(after >= before) || !Number.isFinite(server)) return;
      samples.push(server - (before + after) / 2);
      if (samples.length > SAMPLES) samples.shift();
      const sorted = [...samples].sort((a, b) => a - b);
      offset = Math.round(sorted[sorted.length >> 1]!);
    },
  };
}
