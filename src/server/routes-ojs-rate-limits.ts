/**
 * Rate-limit partitions (ojs-rate-limiting §10.1, §10.3): `GET /ojs/v1/rate-limits/{key}` and the
 * list. jetjob enforces per-job limits of one running job per key (core/rate-limit-policy.ts), so a
 * partition is the exclusive key `rate:<key>`: its holder is the active job, its line the waiting ones.
 * A key with nothing running or waiting answers its idle state.
 */
import { z } from "zod";
import { ErrorCode, ValidationError } from "../core/errors.js";
import { rateLimitKey, rateLimitKeyOf } from "../core/rate-limit-policy.js";
import { rateLimitKeySchema } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import type { ExclusiveKeyView } from "../store/features/exclusive-view.js";
import { describeKey } from "../store/features/exclusive-view.js";
import { keyToken } from "../store/infra/topology.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import { adminPage, pageOf } from "./ojs-admin-views.js";
import { pageOrOffsetQuery, paginate } from "./paging.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, openObject } from "./response-schemas.js";

function partition(key: string, v: ExclusiveKeyView | undefined): Record<string, unknown> {
  const active = v?.holder ? 1 : 0;
  return {
    key,
    concurrency: { limit: 1, active, available: 1 - active },
    waiting_count: v?.waiting ?? 0,
    ...(v?.holder ? { active_jobs: [v.holder.job_id] } : {}),
  };
}

export function rateLimitRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/rate-limits",
      scope: Scope.Read,
      tag: "rate-limits",
      summary: "Rate-limit keys with a running or waiting job (one running job per key)",
      query: pageOrOffsetQuery,
      response: fields({ items: z.array(openObject), pagination: openObject }),
      handler: async (c, { query }) => {
        const items = (await engine.exclusiveKeys({})).flatMap((v) => {
          const key = rateLimitKeyOf(v.key);
          return key === undefined ? [] : [partition(key, v)];
        });
        // Page numbers (the admin UI: pagination.page/per_page) or limit/offset, as asked.
        if (query.page !== undefined || query.per_page !== undefined) {
          const perPage = query.per_page ?? query.limit;
          const p = adminPage({ page: query.page, per_page: perPage && Math.min(perPage, 100) }, 50);
          return ojsJson(c, 200, pageOf(items, p));
        }
        const { page, pagination } = paginate(items, query, 50);
        return ojsJson(c, 200, { items: page, pagination });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/rate-limits/{key}",
      scope: Scope.Read,
      tag: "rate-limits",
      summary: "A rate-limit key's state: its running job (limit 1) and how many wait",
      response: fields({ key: z.string() }),
      handler: async (c, { params }) => {
        const key = params.key;
        if (!rateLimitKeySchema.safeParse(key).success) {
          throw new ValidationError("key must match ^[a-zA-Z0-9][a-zA-Z0-9._:-]*$", {
            code: ErrorCode.InvalidRequest,
            details: { field: "key" },
          });
        }
        const v = await describeKey(engine.svc, keyToken(rateLimitKey(key)));
        return ojsJson(c, 200, partition(key, v));
      },
    }),
  ];
}
