/**
 * `GET /ojs/v1/unique-jobs?page&per_page`: the unique-job keys that block a new job now (the admin
 * UI's Unique Jobs page; store/features/unique-list.ts says what is read and what `truncated` means).
 */
import { z } from "zod";
import type { Engine } from "../store/engine.js";
import { listUniqueLocks } from "../store/features/unique-list.js";
import { Scope } from "./auth.js";
import { adminPage, adminPageQuery, pageOf } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { adminPaginationSchema, fields, openObject } from "./response-schemas.js";

export function ojsUniqueRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/unique-jobs",
      scope: Scope.Read,
      tag: "jobs",
      query: adminPageQuery,
      summary:
        "Unique-job keys that block a new job now, with their job (type, queue, state) and locked_until; paged",
      response: fields({ items: z.array(openObject), pagination: adminPaginationSchema }),
      handler: async (c, { query }) => {
        const { locks, truncated } = await listUniqueLocks(engine.svc);
        return ojsJson(c, 200, {
          ...pageOf(locks, adminPage(query, 25)),
          ...(truncated ? { truncated } : {}),
        });
      },
    }),
  ];
}
