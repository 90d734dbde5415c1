/**
 * A push source (NATS callbacks) as an async iterable: items queue up until the reader takes them;
 * the iteration ends when `done` says an item is the last, when the signal aborts, or when the reader
 * stops. Used by the live streams the NATS client reads (job-stream.ts, fleet-jobs.ts).
 */
export interface PushSource<T> {
  /** Starts delivering to `push`; returns how to stop. */
  start(push: (item: T) => void): Promise<() => void>;
  /** Items to yield first, read after `start` so nothing in between is missed. */
  first?: () => Promise<T[]>;
  /** Whether `item` is the last one. */
  done(item: T): boolean;
}

export async function* iteratePush<T>(src: PushSource<T>, signal?: AbortSignal): AsyncGenerator<T> {
  const queued: T[] = [];
  let wake: (() => void) | undefined;
  const stop = await src.start((item) => {
    queued.push(item);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  try {
    for (const item of (await src.first?.()) ?? []) {
      yield item;
      if (src.done(item)) return;
    }
    while (!signal?.aborted) {
      while (queued.length > 0) {
        const item = queued.shift()!;
        yield item;
        if (src.done(item)) return;
      }
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stop();
  }
}
