/**
 * The single terms of a target, as the tokenizer hands them over: `any`, `all`, `host:NAME`, labels
 * `k:v[,k:v…][:any]`, hostname globs, bare hostnames and the `E@`, `G@` and `L@` prefixed forms. Which
 * form a word is follows fixed rules: a one-letter `X@` prefix first, then a `:` makes labels (or
 * `host:`), then `*`, `?` or `[` make a glob, and anything else is a hostname.
 */
import type { SafeRegExp } from "../../core/safe-regex.js";
import { compileSafeRegExp } from "../../core/safe-regex.js";
import type { FactOp, TargetExpr, TargetLabel } from "./expr.js";
import { checkLabel } from "./label.js";

/** Builds the error for a problem at `offset` characters into the word. */
export type TermFail = (offset: number, problem: string, cause?: unknown) => Error;

const HOST_CHAR = /^[A-Za-z0-9_.-]$/;
const FACT_PATH_CHARS = /^[A-Za-z0-9_.-]*/;
const FACT_OPS: readonly FactOp[] = ["!=", "<=", ">=", "=", "<", ">"];
const GLOB_SPECIAL = /[*?[]/;

/** Parses one word of a target (never a keyword or a parenthesis). */
export function parseTerm(word: string, fail: TermFail): TargetExpr {
  const lower = word.toLowerCase();
  if (lower === "any" || lower === "all") return { kind: lower };
  // OSAPI's spellings.
  if (lower === "_any" || lower === "_all") return { kind: lower === "_any" ? "any" : "all" };
  if (/^[A-Za-z]@/.test(word)) {
    const body = word.slice(2);
    if (word.startsWith("E@")) return parseRegex(body, fail);
    if (word.startsWith("G@")) return parseFact(body, fail);
    if (word.startsWith("L@")) return parseList(body, fail);
    throw fail(0, `unknown prefix '${word.slice(0, 2)}' (use E@regex, G@fact=value or L@host,host)`);
  }
  if (lower.startsWith("host:")) return { kind: "host", name: checkHost(word.slice(5), 5, fail, "hostname") };
  if (word.includes(":")) return parseLabels(word, fail);
  if (GLOB_SPECIAL.test(word)) return parseGlob(word, fail);
  return { kind: "host", name: checkHost(word, 0, fail, "hostname") };
}

/**
 * Compiles a hostname glob (`*`, `?`, `[abc]`, `[!abc]`, `[a-z]`) to an anchored, case-insensitive
 * regular expression (RE2: a glob like `*a*a*a*a*b` stays linear, see core/safe-regex.ts).
 */
export function globToRegExp(pattern: string): SafeRegExp {
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === "*") source += ".*";
    else if (c === "?") source += ".";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 1);
      if (close < 0) throw new SyntaxError(`unclosed '[' in glob '${pattern}'`);
      const body = pattern.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      source += `[${negate ? "^" : ""}${escapeRegExp(negate ? body.slice(1) : body, true)}]`;
      i = close;
    } else source += escapeRegExp(c, false);
  }
  return compileSafeRegExp(`${source}$`, { ignoreCase: true });
}

function escapeRegExp(text: string, inClass: boolean): string {
  // Inside a class `-` keeps its range meaning; everything else special is escaped.
  return text.replace(inClass ? /[\\\]^[]/g : /[\\^$.*+?()[\]{}|]/g, "\\$&");
}

function checkHost(name: string, offset: number, fail: TermFail, what: string): string {
  if (name.length === 0) throw fail(offset, `expected a ${what}`);
  for (let i = 0; i < name.length; i++) {
    const c = name.charAt(i);
    if (!HOST_CHAR.test(c))
      throw fail(offset + i, `bad character '${c}' in ${what} (use letters, digits, '_', '-' and '.')`);
  }
  return name;
}

function parseLabels(word: string, fail: TermFail): TargetExpr {
  const labels: TargetLabel[] = [];
  const parts = word.split(",");
  let pick = false;
  let offset = 0;
  for (const [index, part] of parts.entries()) {
    const colon = part.indexOf(":");
    if (part.length === 0)
      throw fail(offset, index === 0 ? "expected a label" : "expected a label after ','");
    if (colon < 0) throw fail(offset, `expected a key:value label, found '${part}'`);
    let end = part.length;
    const second = part.indexOf(":", colon + 1);
    if (second >= 0 && part.slice(second + 1).toLowerCase() === "any") {
      if (index !== parts.length - 1) throw fail(offset + second, "':any' must end the labels");
      pick = true;
      end = second;
    }
    const key = part.slice(0, colon);
    const problem = checkLabel(key, part.slice(colon + 1, end));
    if (problem !== undefined) throw fail(offset + problem.offset, problem.message);
    labels.push({ key, value: part.slice(colon + 1, end) });
    offset += part.length + 1;
  }
  return pick ? { kind: "labels", labels, pick: "one" } : { kind: "labels", labels };
}

function parseGlob(word: string, fail: TermFail): TargetExpr {
  for (let i = 0; i < word.length; i++) {
    const c = word.charAt(i);
    if (c === "[") {
      const close = word.indexOf("]", i + 1);
      if (close < 0) throw fail(i, "unclosed '[' in glob");
      const start = word.charAt(i + 1) === "!" || word.charAt(i + 1) === "^" ? i + 2 : i + 1;
      if (start >= close) throw fail(i, "empty character class in glob");
      for (let j = start; j < close; j++) {
        if (!HOST_CHAR.test(word.charAt(j)))
          throw fail(j, `bad character '${word.charAt(j)}' in glob character class`);
      }
      i = close;
    } else if (c !== "*" && c !== "?" && !HOST_CHAR.test(c)) {
      throw fail(i, `bad character '${c}' in glob (use letters, digits, '_', '-', '.', '*', '?' and [...])`);
    }
  }
  try {
    globToRegExp(word);
  } catch (err) {
    throw fail(0, `invalid character class in glob '${word}' (a range must run from low to high)`, err);
  }
  return { kind: "glob", pattern: word };
}

function parseRegex(source: string, fail: TermFail): TargetExpr {
  if (source.length === 0) throw fail(2, "expected a regular expression after 'E@'");
  try {
    compileSafeRegExp(source, { ignoreCase: true });
  } catch (err) {
    throw fail(2, `invalid regular expression '${source}': ${(err as Error).message}`, err);
  }
  return { kind: "regex", source };
}

function parseFact(body: string, fail: TermFail): TargetExpr {
  const path = FACT_PATH_CHARS.exec(body)?.[0] ?? "";
  if (path.length === 0) throw fail(2, "expected a fact name after 'G@'");
  for (let i = 0; i < path.length; i++) {
    if (path.charAt(i) === "." && (i === 0 || i === path.length - 1 || path.charAt(i - 1) === "."))
      throw fail(2 + i, "empty segment in fact name (segments are joined by single dots)");
  }
  let at = path.length;
  const opStart = at;
  let op: FactOp | undefined;
  if (body.charAt(at) === ":") {
    at++;
    op = FACT_OPS.find((o) => body.startsWith(o, at));
    at += op?.length ?? 0;
    op ??= "=";
  } else {
    op = FACT_OPS.find((o) => body.startsWith(o, at));
    if (op === undefined) {
      throw fail(
        2 + at,
        at >= body.length
          ? "expected an operator (=, !=, <, <=, >, >= or :) after the fact name"
          : `bad fact operator '${body.charAt(at)}' (use =, !=, <, <=, >, >= or :)`,
      );
    }
    at += op.length;
  }
  const value = body.slice(at);
  if (value.length === 0) throw fail(2 + at, `expected a value after '${body.slice(opStart, at)}'`);
  if (/^[=<>!]/.test(value))
    throw fail(
      2 + opStart,
      `bad fact operator '${body.slice(opStart, at + 1)}' (use =, !=, <, <=, >, >= or :)`,
    );
  return { kind: "fact", path, op, value };
}

function parseList(body: string, fail: TermFail): TargetExpr {
  if (body.length === 0) throw fail(2, "empty host list after 'L@'");
  const hosts: string[] = [];
  let offset = 2;
  for (const part of body.split(",")) {
    hosts.push(checkHost(part, offset, fail, "hostname in the list"));
    offset += part.length + 1;
  }
  return { kind: "list", hosts };
}
