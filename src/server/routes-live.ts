/**
 * `GET /api/v1/events/stream`: every queue's lifecycle events as Server-Sent Events, for live views
 * (the dashboard's overview). Shares the server's one events subscription (event-hub.ts); a client
 * that falls too far behind is dropped (sse-queue.ts).
 */
import { streamSSE } from "hono/streaming";

import type { Engine } from "../store/engine.js";
import { Scope } from "./auth.js";
import { eventHub } from "./event-hub.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { createSseQueue, dropConnection } from "./sse-queue.js";

export function liveRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/events/stream",
      scope: Scope.Read,
      tag: "events",
      queryToken: true,
      summary: "Server-Sent Events: lifecycle events of every queue as they happen (until the client leaves)",
      handler: (c) =>
        streamSSE(c, async (stream) => {
          const listening: { stop?: () => void } = {};
          const q = createSseQueue({
            onOverflow: () => listening.stop?.(),
            onGiveUp: () => dropConnection(c),
          });
          const stop = await eventHub(engine.ctx).listen({ all: true }, (_e, frame) => q.pushFrame(frame()));
          listening.stop = stop;
          try {
            await q.pump(stream);
          } finally {
            stop();
          }
        }),
    }),
  ];
}
