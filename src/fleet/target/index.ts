/**
 * The fleet target grammar: parse a target once, then match it against agents or resolve it to the
 * agents that should run a job. See `parse.ts` for the grammar and `match.ts` for the matching rules.
 */
export { formatTarget, targetPicksOne } from "./expr.js";
export type { FactOp, TargetExpr, TargetLabel } from "./expr.js";
export {
  checkLabel,
  LABEL_KEY,
  LABEL_VALUE,
  labelMatches,
  MAX_LABEL_KEY_LENGTH,
  MAX_LABEL_VALUE_LENGTH,
  validateLabel,
} from "./label.js";
export type { LabelProblem } from "./label.js";
export { lookupFact, matchesTarget, resolveTarget } from "./match.js";
export type { ResolveTargetOptions, TargetCandidate } from "./match.js";
export { MAX_TARGET_LENGTH, parseLabel, parseTarget, TargetSyntaxError } from "./parse.js";
export { globToRegExp } from "./term.js";
