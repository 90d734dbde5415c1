/**
 * Paging of the OJS lists (http-binding §17): `limit`, and `cursor` (this server's cursors are offsets)
 * or `offset`; the `pagination` object with `next_cursor` whenever `has_more`.
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";

/** Query of the offset-paged OJS lists (http-binding §17.1): `cursor` is the next page's offset. */
export const pageQuery = z.object({
  limit: z.int().min(1).max(1000).optional().describe("Page size"),
  cursor: z.string().optional().describe("pagination.next_cursor of the previous page"),
  offset: z.int().min(0).default(0).describe("Items to skip (when no cursor is given)"),
});

/** The offset a page starts at: its `cursor` (this server's cursors are offsets), else `offset`. */
export function pageOffset(query: Record<string, string>): number {
  if (query.cursor !== undefined && query.cursor !== "") {
    if (!/^\d{1,15}$/.test(query.cursor))
      throw new ValidationError("cursor: not a cursor this server gave", { details: { field: "cursor" } });
    return Number(query.cursor);
  }
  return clampInt(query.offset, 0, Number.MAX_SAFE_INTEGER, 0);
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
  query: Record<string, string>,
  defaultLimit: number,
): { page: T[]; pagination: Record<string, unknown> } {
  const limit = clampInt(query.limit, 1, 1000, defaultLimit);
  const offset = pageOffset(query);
  const page = all.slice(offset, offset + limit);
  return { page, pagination: pagination(all.length, limit, offset, page.length) };
}

/** `v` as an integer within [min, max], or `dflt` when it is not an integer. */
export function clampInt(v: string | undefined, min: number, max: number, dflt: number): number {
  const n = v === undefined ? NaN : Number(v);
  if (!Number.isInteger(n)) return dflt;
  return Math.min(max, Math.max(min, n));
}
