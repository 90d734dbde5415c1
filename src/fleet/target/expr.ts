/**
 * The syntax tree of a fleet target and its canonical text. {@link formatTarget} prints the shortest
 * text that parses back to the same tree: keywords in lowercase, `G@fact:value` as `G@fact=value`,
 * parentheses only where precedence (not > and > or) or an explicit nested group needs them.
 */

/** Comparison operators of `G@` fact terms. */
export type FactOp = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** One `key:value` label of a target; the value selects itself and everything below it. */
export interface TargetLabel {
  key: string;
  value: string;
}

/** A parsed target. */
export type TargetExpr =
  | { kind: "any" }
  | { kind: "all" }
  | { kind: "host"; name: string }
  | { kind: "labels"; labels: TargetLabel[]; pick?: "one" }
  | { kind: "glob"; pattern: string }
  | { kind: "regex"; source: string }
  | { kind: "fact"; path: string; op: FactOp; value: string }
  | { kind: "list"; hosts: string[] }
  | { kind: "and" | "or"; items: TargetExpr[] }
  | { kind: "not"; item: TargetExpr };

/** Whether the target selects exactly one of its matches (`any`, `key:value:any`) rather than all. */
export function targetPicksOne(expr: TargetExpr): boolean {
  return expr.kind === "any" || (expr.kind === "labels" && expr.pick === "one");
}

/** The canonical text of a target; `parseTarget(formatTarget(e))` deep-equals `e` for parsed targets. */
export function formatTarget(expr: TargetExpr): string {
  switch (expr.kind) {
    case "any":
    case "all":
      return expr.kind;
    case "host":
      return `host:${expr.name}`;
    case "labels":
      return expr.labels.map((l) => `${l.key}:${l.value}`).join(",") + (expr.pick === "one" ? ":any" : "");
    case "glob":
      return expr.pattern;
    case "regex":
      return `E@${expr.source}`;
    case "fact":
      return `G@${expr.path}${expr.op}${expr.value}`;
    case "list":
      return `L@${expr.hosts.join(",")}`;
    case "not":
      return `not ${formatOperand(expr.item, "not")}`;
    case "and":
    case "or":
      return expr.items.map((item) => formatOperand(item, expr.kind)).join(` ${expr.kind} `);
  }
}

function formatOperand(item: TargetExpr, parent: "and" | "or" | "not"): string {
  const text = formatTarget(item);
  // `or` binds loosest; an `and` directly inside an `and` must stay grouped, or it would parse flattened.
  const group = item.kind === "or" || (item.kind === "and" && parent !== "or");
  return group ? `(${text})` : text;
}
