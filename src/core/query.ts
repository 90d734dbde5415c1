/**
 * Query-parameter schemas shared by the HTTP routes and the use cases that declare their input with
 * them (usecases/jobs.ts): the same rule whether a value arrives as a query string or as a number
 * from the NATS client.
 */
import { z } from "zod";

/**
 * An integer query parameter, the one rule of every list's `limit`, `per_page`, `page` and `offset`:
 * a value that is not an integer is refused (400 `invalid_request`, the validation envelope); an
 * integer outside [min, max] is clamped into it (OJS clients ask for pages larger than a server's
 * maximum and expect the largest page, not a refusal).
 */
export function queryInt(min: number, max: number) {
  return z.coerce
    .number<string>()
    .int()
    .meta({ minimum: min, maximum: max })
    .transform((n) => Math.min(max, Math.max(min, n)));
}

/** A `true`/`false` query flag: `true` when the value is exactly `true`, else false. */
export function queryFlag() {
  return z
    .string()
    .optional()
    .transform((v) => v === "true");
}
