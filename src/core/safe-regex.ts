/**
 * Regular expressions that come from users (target `E@` terms and hostname globs, retry policies'
 * `non_retryable_errors`) run on RE2 (the re2js package): time linear in the input whatever the
 * pattern, so no pattern can freeze a process. JavaScript's own backtracking engine takes exponential
 * time on patterns such as `^(a+)+$`, and a request that triggers it blocks the whole event loop.
 * RE2 has no lookaround and no backreferences: such patterns are refused when they are given.
 */
import { RE2JS } from "re2js";

export interface SafeRegExp {
  readonly source: string;
  /** Whether the pattern matches anywhere in `input` (like `RegExp.prototype.test`). */
  test(input: string): boolean;
}

/** Compiles `source` with RE2; throws a SyntaxError naming the problem when RE2 cannot take it. */
export function compileSafeRegExp(source: string, o: { ignoreCase?: boolean } = {}): SafeRegExp {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, o.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^error parsing regexp: /, "") : String(err);
    throw new SyntaxError(`${why} (lookaround and backreferences are not supported)`, { cause: err });
  }
  return { source, test: (input) => re.test(input) };
}
