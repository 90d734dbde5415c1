/** An agent's labels as given in its options (a record or `key:value` strings), checked and normalised. */
import { parseLabel } from "../fleet/target/index.js";
import type { AgentOptions } from "./types.js";

export function normalizeLabels(labels: AgentOptions["labels"]): Record<string, string> {
  if (labels === undefined) return {};
  if (Array.isArray(labels)) {
    const out: Record<string, string> = {};
    for (const l of labels) {
      const { key, value } = parseLabel(l);
      out[key] = value;
    }
    return out;
  }
  for (const [key, value] of Object.entries(labels)) parseLabel(`${key}:${value}`);
  return { ...labels };
}
