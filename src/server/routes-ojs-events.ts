/**
 * `GET /ojs/v1/events`: recent lifecycle events, newest first, by cursor (`limit`, `next_cursor`) or by
 * page number (`page`, `per_page`) for page-numbered clients such as the official OJS admin UI.
 * @module
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";
import { queueNameSchema } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import { queryInt } from "./paging.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { eventSchema, fields, openObject } from "./response-schemas.js";

export function ojsEventsListRoute(engine: Engine): RouteDef {
  return defineRoute({
    method: "GET",
    path: "/ojs/v1/events",
    scope: Scope.Read,
    tag: "events",
    query: z.object({
      types: z.string().optional().describe("Comma-separated event types, e.g. job.completed,job.failed"),
      type: z.string().optional().describe("Alias of types"),
      queues: z.string().optional().describe("Comma-separated queue names"),
      queue: z.string().optional().describe("Alias of queues"),
      job_id: z.string().optional().describe("Only events of this job"),
      limit: queryInt(1, 1000).optional().describe("Most events to return (default 50)"),
      per_page: queryInt(1, 1000).optional().describe("Alias of limit (page-numbered clients)"),
      page: queryInt(1, 1_000_000)
        .optional()
        .describe("Page number from 1 (with limit/per_page): skips (page-1)*limit events; not with cursor"),
      cursor: z.string().optional().describe("pagination.next_cursor of the previous page: older events"),
    }),
    summary:
      "Recent lifecycle events, newest first (?types=a,b&queues=q&limit=n); also as `items` with `pagination.page/per_page/total` for page-numbered clients such as the OJS admin UI",
    response: fields({ events: z.array(eventSchema), items: z.array(eventSchema), pagination: openObject }),
    handler: async (c, { query }) => {
      const list = (v: string | undefined) =>
        v
          ? v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined;
      const queues = list(query.queues ?? query.queue);
      for (const q of queues ?? []) {
        if (!queueNameSchema.safeParse(q).success)
          throw new ValidationError(`queues: '${q}' is not a valid queue name`);
      }
      const q: Parameters<Engine["events"]>[0] = {
        limit: query.per_page ?? query.limit ?? 50,
      };
      const types = list(query.types ?? query.type);
      if (types) q.types = types;
      if (queues) q.queues = queues;
      if (query.job_id) q.jobId = query.job_id;
      if (query.cursor) q.cursor = query.cursor;
      const pageNo = query.cursor ? undefined : (query.page ?? 1);
      const skipped = pageNo === undefined ? 0 : (pageNo - 1) * q.limit!;
      const page = await eventPageAt(engine, q, skipped);
      // A search reads a bounded number of stored batches: `has_more` with a cursor says where to go on.
      const hasMore = page.nextCursor !== undefined;
      const pagination: Record<string, unknown> = { limit: q.limit, has_more: hasMore };
      if (page.nextCursor !== undefined) pagination.next_cursor = page.nextCursor;
      if (pageNo !== undefined) {
        // Page-numbered clients (the OJS admin UI) need page, per_page and total. The total is exact
        // once the last page is reached; before that it is not known without reading every stored
        // event, so it is given as one more than this page's end, which offers the next page.
        pagination.page = pageNo;
        pagination.per_page = q.limit;
        pagination.total = skipped + page.events.length + (hasMore ? 1 : 0);
      }
      return ojsJson(c, 200, { events: page.events, items: page.events, pagination });
    },
  });
}

/** Most searches one events page request chains to skip to its page. */
const EVENT_SKIP_SEARCHES = 20;

/**
 * The events page that starts after the first `skip` matching events: the searches before it skip
 * those (following their cursors, so a search that stopped at its read budget skips no event).
 */
async function eventPageAt(
  engine: Engine,
  q: Parameters<Engine["eventPage"]>[0],
  skip: number,
): ReturnType<Engine["eventPage"]> {
  let cursor = q.cursor;
  for (let left = skip, n = 0; left > 0; n++) {
    if (n === EVENT_SKIP_SEARCHES) {
      throw new ValidationError(
        "page: too far back to find by page number; follow pagination.next_cursor instead",
        { details: { field: "page" } },
      );
    }
    const r = await engine.eventPage({ ...q, limit: Math.min(left, 1000), ...(cursor ? { cursor } : {}) });
    left -= r.events.length;
    if (r.nextCursor === undefined) return { events: [] }; // fewer events than the pages before it
    cursor = r.nextCursor;
  }
  return engine.eventPage({ ...q, ...(cursor ? { cursor } : {}) });
}
