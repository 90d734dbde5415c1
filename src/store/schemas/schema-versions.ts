/**
 * Versions of registered schemas (ojs-schema-registry §6). The documents disagree on their form: the
 * http-binding (§15) and the conformance suite use integers (`1`, `2`), the extension uses SemVer
 * (`"2.0.0"`). Both are accepted: an integer (or a string of digits) stays an integer on the wire, a
 * SemVer string stays a string, and they are ordered together by SemVer precedence, with `n` read as
 * `n.0.0`.
 */
import { ErrorCode, ValidationError } from "../../core/errors.js";

export type SchemaVersion = number | string;

const DIGITS = /^(0|[1-9]\d{0,14})$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/**
 * The version as stored and shown: a non-negative integer, or a SemVer string.
 * @throws {ValidationError} `invalid_request` naming the field.
 */
export function parseSchemaVersion(raw: unknown, field = "version"): SchemaVersion {
  if (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === "string") {
    if (DIGITS.test(raw)) return Number(raw);
    if (raw.length <= 64 && SEMVER.test(raw)) return raw;
  }
  throw new ValidationError(`${field} must be an integer (1) or a SemVer version (1.2.0)`, {
    code: ErrorCode.InvalidRequest,
    details: { field },
  });
}

/** The version's text, used in keys and URIs: `1`, `1.2.0`. */
export function versionText(v: SchemaVersion): string {
  return String(v);
}

type Parts = [number, number, number, string | undefined];

function parts(v: SchemaVersion): Parts {
  if (typeof v === "number") return [v, 0, 0, undefined];
  const m = SEMVER.exec(v);
  if (!m) return [0, 0, 0, v];
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]];
}

/** SemVer precedence: negative when `a` is older than `b`. A pre-release is older than its release. */
export function compareVersions(a: SchemaVersion, b: SchemaVersion): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] as number) - (pb[i] as number);
    if (d !== 0) return d;
  }
  const [, , , xa] = pa;
  const [, , , xb] = pb;
  if (xa === xb) return 0;
  if (xa === undefined) return 1;
  if (xb === undefined) return -1;
  return comparePre(xa, xb);
}

function comparePre(a: string, b: string): number {
  const as = a.split(".");
  const bs = b.split(".");
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const x = as[i];
    const y = bs[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
