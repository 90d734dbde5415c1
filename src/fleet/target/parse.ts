/**
 * The fleet target grammar: one tokenizer and one recursive-descent parser.
 *
 *   target  := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | primary
 *   primary := "(" or ")" | term
 *
 * Keywords are case-insensitive; terms are described in `term.ts`. Words are split at whitespace and
 * parentheses, except that an `E@` regex runs to the next whitespace and keeps balanced parentheses,
 * so `(E@^(web|db)-1$ or L@x)` works: only a `)` closing a parenthesis opened before the regex ends it.
 * The pick-one forms (`any`, `k:v:any`) must be the whole target. Every error names the 0-based
 * character position of the problem.
 */
import { ValidationError } from "../../core/errors.js";
import { targetPicksOne, type TargetExpr, type TargetLabel } from "./expr.js";
import { checkLabel } from "./label.js";
import { parseTerm, type TermFail } from "./term.js";

export const MAX_TARGET_LENGTH = 1024;

const HINT =
  "A target is any, all, a hostname or hostname glob, host:NAME, key:value labels joined by ',', " +
  "E@regex, G@fact=value or L@host,host, combined with and, or, not and parentheses.";

/** A target (or label) is malformed; `position` is the 0-based character index of the problem. */
export class TargetSyntaxError extends ValidationError {
  override name = "TargetSyntaxError";
  readonly position: number;

  constructor(
    text: string,
    position: number,
    problem: string,
    options: { subject?: "target" | "label"; cause?: unknown } = {},
  ) {
    const subject = options.subject ?? "target";
    super(`Bad ${subject} at position ${position}: ${problem}`, {
      details: { [subject]: text.slice(0, MAX_TARGET_LENGTH), position },
      hint: subject === "target" ? HINT : "A label is key:value, e.g. group:web.dev.us-east.",
      cause: options.cause,
    });
    this.position = position;
  }
}

/** Parses a target. Throws {@link TargetSyntaxError} naming the position of the first problem. */
export function parseTarget(text: string): TargetExpr {
  if (text.length > MAX_TARGET_LENGTH)
    throw new TargetSyntaxError(
      text,
      MAX_TARGET_LENGTH,
      `the target is longer than ${MAX_TARGET_LENGTH} characters`,
    );
  if (text.trim().length === 0) throw new TargetSyntaxError(text, 0, "the target is empty");
  return new Parser(text).parse();
}

/** Parses one `key:value` label. Throws {@link TargetSyntaxError} naming the position of the problem. */
export function parseLabel(text: string): TargetLabel {
  const colon = text.indexOf(":");
  if (colon < 0) throw new TargetSyntaxError(text, text.length, "expected key:value", { subject: "label" });
  const key = text.slice(0, colon);
  const value = text.slice(colon + 1);
  const problem = checkLabel(key, value);
  if (problem !== undefined)
    throw new TargetSyntaxError(text, problem.offset, problem.message, { subject: "label" });
  return { key, value };
}

interface Token {
  kind: "(" | ")" | "word";
  text: string;
  pos: number;
}

const SPACE = /^\s$/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (SPACE.test(c)) {
      i++;
    } else if (c === "(" || c === ")") {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
    } else {
      const end = text.startsWith("E@", i) ? regexEnd(text, i + 2) : wordEnd(text, i);
      tokens.push({ kind: "word", text: text.slice(i, end), pos: i });
      i = end;
    }
  }
  return tokens;
}

function wordEnd(text: string, i: number): number {
  let end = i;
  while (end < text.length && !SPACE.test(text.charAt(end)) && !"()".includes(text.charAt(end))) end++;
  return end;
}

/** The end of an `E@` regex. Escapes and character classes are skipped, so `\)` and `[)]` never end it. */
function regexEnd(text: string, i: number): number {
  let depth = 0;
  let inClass = false;
  let end = i;
  for (; end < text.length; end++) {
    const c = text.charAt(end);
    if (SPACE.test(c)) break;
    if (c === "\\") {
      if (end + 1 < text.length && !SPACE.test(text.charAt(end + 1))) end++;
    } else if (inClass) {
      inClass = c !== "]";
    } else if (c === "[") {
      inClass = true;
    } else if (c === "(") {
      depth++;
    } else if (c === ")") {
      if (depth === 0) break;
      depth--;
    }
  }
  return end;
}

const KEYWORDS = new Set(["and", "or", "not"]);

class Parser {
  readonly #text: string;
  readonly #tokens: Token[];
  #at = 0;
  readonly #pickOne: { expr: TargetExpr; pos: number }[] = [];

  constructor(text: string) {
    this.#text = text;
    this.#tokens = tokenize(text);
  }

  parse(): TargetExpr {
    const expr = this.#or(undefined);
    const next = this.#tokens[this.#at];
    if (next !== undefined) {
      throw this.#error(
        next.pos,
        next.kind === ")"
          ? "unexpected ')' without a matching '('"
          : `expected 'and', 'or' or the end of the target, found '${next.text}'`,
      );
    }
    const misplaced = this.#pickOne.find((p) => p.expr !== expr);
    if (misplaced !== undefined) {
      throw this.#error(
        misplaced.pos,
        "a pick-one term ('any' or 'key:value:any') must be the whole target, not part of a compound",
      );
    }
    return expr;
  }

  #or(after: string | undefined): TargetExpr {
    const items = [this.#and(after)];
    while (this.#keyword("or")) items.push(this.#and("or"));
    return items.length === 1 ? items[0]! : { kind: "or", items };
  }

  #and(after: string | undefined): TargetExpr {
    const items = [this.#not(after)];
    while (this.#keyword("and")) items.push(this.#not("and"));
    return items.length === 1 ? items[0]! : { kind: "and", items };
  }

  #not(after: string | undefined): TargetExpr {
    if (this.#keyword("not")) return { kind: "not", item: this.#not("not") };
    return this.#primary(after);
  }

  #primary(after: string | undefined): TargetExpr {
    const token = this.#tokens[this.#at];
    const expected = after === undefined ? "expected a term" : `expected a term after '${after}'`;
    if (token === undefined) throw this.#error(this.#text.length, expected);
    if (token.kind === ")" || KEYWORDS.has(token.text.toLowerCase()))
      throw this.#error(token.pos, `${expected}, found '${token.text}'`);
    this.#at++;
    if (token.kind === "(") {
      const inner = this.#or("(");
      const close = this.#tokens[this.#at];
      if (close === undefined) throw this.#error(token.pos, "unclosed '('");
      if (close.kind !== ")")
        throw this.#error(close.pos, `expected 'and', 'or' or ')', found '${close.text}'`);
      this.#at++;
      return inner;
    }
    const fail: TermFail = (offset, problem, cause) =>
      new TargetSyntaxError(this.#text, token.pos + offset, problem, { cause });
    const expr = parseTerm(token.text, fail);
    if (targetPicksOne(expr)) this.#pickOne.push({ expr, pos: token.pos });
    return expr;
  }

  #keyword(word: string): boolean {
    const token = this.#tokens[this.#at];
    if (token?.kind !== "word" || token.text.toLowerCase() !== word) return false;
    this.#at++;
    return true;
  }

  #error(position: number, problem: string): TargetSyntaxError {
    return new TargetSyntaxError(this.#text, position, problem);
  }
}
