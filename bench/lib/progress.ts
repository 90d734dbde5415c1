/**
 * Small building blocks of the comparison scenarios: a completion counter that can be awaited (and
 * fails loudly when a run stops making progress instead of hanging), a bounded in-flight loop, a
 * fixed-rate loop, percentiles and a shared clock.
 */

/** Milliseconds on one clock for every system (same process): `performance.timeOrigin + performance.now()`. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Waiter {
  target: number;
  resolve: () => void;
}

/**
 * Counts events (jobs completed, messages received). `reached(n)` resolves once the count is at
 * least n; it rejects when the count has not moved for `stallMs` (a stuck run is reported, with the
 * count at that point, instead of hanging the benchmark), or as soon as `fail()` is called.
 */
export class Progress {
  count = 0;
  #waiters: Waiter[] = [];
  #failed: Error | undefined;
  #onFail: Array<(err: Error) => void> = [];
  readonly #stallMs: number;
  readonly #what: string;

  constructor(what: string, stallMs = 60_000) {
    this.#what = what;
    this.#stallMs = stallMs;
  }

  add(n = 1): void {
    this.count += n;
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.count >= w.target) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** Marks the run as failed: every pending and later `reached` rejects with `err`. */
  fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    for (const f of this.#onFail.splice(0)) f(err);
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  reached(target: number): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.count >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let last = this.count;
      let lastMove = Date.now();
      const timer = setInterval(() => {
        if (this.count !== last) {
          last = this.count;
          lastMove = Date.now();
        } else if (Date.now() - lastMove > this.#stallMs) {
          clearInterval(timer);
          reject(
            new Error(
              `${this.#what}: no progress for ${this.#stallMs / 1000} s, stuck at ${this.count} of ${target}`,
            ),
          );
        }
      }, 500);
      this.#onFail.push((err) => {
        clearInterval(timer);
        reject(err);
      });
      this.#waiters.push({
        target,
        resolve: () => {
          clearInterval(timer);
          resolve();
        },
      });
    });
  }
}

/** Runs `fn(0)` … `fn(n - 1)` with at most `limit` calls in flight; rejects on the first error. */
export async function pipelined(
  n: number,
  limit: number,
  fn: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
}

/** Runs `fn(from)` … `fn(to - 1)` in chunks of `size` (`fn(start, count)`), one chunk in flight. */
export async function chunked(
  from: number,
  to: number,
  size: number,
  fn: (start: number, count: number) => Promise<unknown>,
): Promise<void> {
  for (let i = from; i < to; i += size) await fn(i, Math.min(size, to - i));
}

/**
 * Calls `fire(i)` for i in 0…count-1, one every `intervalMs`, on schedule: a late timer fires the
 * calls that are due at once instead of drifting.
 */
export async function paced(count: number, intervalMs: number, fire: (i: number) => void): Promise<void> {
  const start = performance.now();
  let i = 0;
  while (i < count) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.now();
    while (i < count && start + i * intervalMs <= now) fire(i++);
  }
}
