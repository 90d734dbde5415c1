/**
 * The write side of every Server-Sent Events route: events are queued by a callback (a NATS
 * subscription or consumer) and written in order by `pump`, with a keep-alive comment every 15 s,
 * until `end()` or the client leaves.
 */
import type { SSEStreamingApi } from "hono/streaming";

const HEARTBEAT_MS = 15_000;

export interface SseQueue {
  push(event: string, data: unknown): void;
  /** No more events: `pump` writes what is queued and returns. */
  end(): void;
  /** Whether the client left or `end()` was called. */
  readonly ended: boolean;
  pump(stream: SSEStreamingApi): Promise<void>;
}

export function createSseQueue(): SseQueue {
  const queued: Array<{ event: string; data: string }> = [];
  let finished = false;
  let wake: (() => void) | undefined;
  const q: SseQueue = {
    push(event, data) {
      queued.push({ event, data: JSON.stringify(data) });
      wake?.();
    },
    end() {
      finished = true;
      wake?.();
    },
    get ended() {
      return finished;
    },
    async pump(stream) {
      stream.onAbort(() => q.end());
      while (!stream.aborted) {
        while (queued.length > 0) await stream.writeSSE(queued.shift()!);
        if (finished) break;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, HEARTBEAT_MS);
        });
        clearTimeout(timer); // a stream that ended must not keep the process alive for 15 s
        wake = undefined;
        if (queued.length === 0 && !finished) await stream.write(": keep-alive\n\n");
      }
    },
  };
  return q;
}
