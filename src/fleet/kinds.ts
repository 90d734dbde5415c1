/** Query or modify when no agent declares it: read-only by the name's verb, otherwise modify (the safe side). */
import type { OperationKind } from "./types.js";

const readVerbs = new Set(["get", "list", "status", "read", "query", "ping", "check", "show"]);

export function defaultOperationKind(op: string): OperationKind {
  const verb = op.slice(op.lastIndexOf(".") + 1);
  return readVerbs.has(verb) ? "query" : "modify";
}
