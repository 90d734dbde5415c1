/**
 * A queue that runs what is added in batches: while a batch runs, what is added waits and goes into
 * the next batch together. So when work comes faster than a batch takes, batches grow instead of
 * running side by side, which is what makes them cheap (the exclusive-key hand-over puts a batch's
 * new holders into shared lane segments).
 *
 * One batch runs at a time, unless the last one started has run for `stallMs`: then another may start
 * (up to `parallel`), so that one slow batch does not hold up everything added after it.
 */

export interface BatchQueueOptions {
  /** Batches running at most. @defaultValue 4 */
  parallel?: number;
  /** How long the last batch started runs before another may start beside it. @defaultValue 50 */
  stallMs?: number;
}

export interface BatchQueue<T> {
  /** Resolves when a batch with `items` ran (rejects with the batch's error). */
  add(items: T[]): Promise<void>;
}

interface Waiting<T> {
  items: T[];
  done: () => void;
  fail: (err: unknown) => void;
}

export function createBatchQueue<T>(
  run: (items: T[]) => Promise<void>,
  options: BatchQueueOptions = {},
): BatchQueue<T> {
  const parallel = options.parallel ?? 4;
  const stallMs = options.stallMs ?? 50;
  let pending: Array<Waiting<T>> = [];
  let running = 0;
  let lastStart = 0;
  let timer: NodeJS.Timeout | undefined;

  function start(): void {
    const batch = pending;
    pending = [];
    running++;
    lastStart = performance.now();
    void Promise.resolve()
      .then(() => run(batch.flatMap((b) => b.items)))
      .then(
        () => {
          for (const b of batch) b.done();
        },
        (err: unknown) => {
          for (const b of batch) b.fail(err);
        },
      )
      .finally(() => {
        running--;
        pump();
      });
  }

  function pump(): void {
    if (pending.length === 0 || running >= parallel) return;
    const ranFor = performance.now() - lastStart;
    if (running === 0 || ranFor >= stallMs) {
      start();
      return;
    }
    // Look again once the batch running counts as slow (or sooner, when it ends).
    timer ??= setTimeout(() => {
      timer = undefined;
      pump();
    }, stallMs - ranFor);
    timer.unref();
  }

  return {
    add(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((done, fail) => {
        pending.push({ items, done, fail });
        pump();
      });
    },
  };
}
