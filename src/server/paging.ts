/**
 * Paging of the OJS lists (http-binding §17): `limit`, and `cursor` (this server's cursors are offsets)
 * or `offset`; the `pagination` object with `next_cursor` whenever `has_more`.
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";
import { queryInt } from "../core/query.js";

export { queryFlag, queryInt } from "../core/query.js";

/** Query of the offset-paged OJS lists (http-binding §17.1): `cursor` is the next page's offset. */
export const pageQuery = z.object({
  limit: queryInt(1, 1000).optional().describe("Page size"),
  cursor: z.string().optional().describe("pagination.next_cursor of the previous page"),
  offset: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe("Items to skip (when no cursor is given)"),
});

/** `pageQuery` or, as the SDKs and the admin UI page, 1-based `page` and `per_page`. */
export const pageOrOffsetQuery = pageQuery.extend({
  page: queryInt(1, 1_000_000).optional().describe("Page number from 1 (page-numbered clients)"),
  per_page: queryInt(1, 1000).optional().describe("Alias of limit (page-numbered clients)"),
});

/** The paging fields of a parsed `pageQuery`. */
export interface PageQuery {
  limit?: number | undefined;
  cursor?: string | undefined;
  offset?: number | undefined;
}

/** The offset a page starts at: its `cursor` (this server's cursors are offsets), else `offset`. */
export function pageOffset(query: PageQuery): number {
  if (query.cursor !== undefined && query.cursor !== "") {
    if (!/^\d{1,15}$/.test(query.cursor))
      throw new ValidationError("cursor: not a cursor this server gave", { details: { field: "cursor" } });
    return Number(query.cursor);
  }
  return query.offset ?? 0;
}

/** The `pagination` object (§17.2): `next_cursor` whenever `has_more`. */
export function pagination(
  total: number,
  limit: number,
  offset: number,
  count: number,
): Record<string, unknown> {
  const hasMore = offset + count < total;
  return {
    total,
    limit,
    offset,
    has_more: hasMore,
    ...(hasMore ? { next_cursor: String(offset + count) } : {}),
  };
}

/** A page of an in-memory list, with its `pagination`. */
export function paginate<T>(
  all: T[],
  query: PageQuery,
  defaultLimit: number,
): { page: T[]; pagination: Record<string, unknown> } {
  const limit = query.limit ?? defaultLimit;
  const offset = pageOffset(query);
  const page = all.slice(offset, offset + limit);
  return { page, pagination: pagination(all.length, limit, offset, page.length) };
}
