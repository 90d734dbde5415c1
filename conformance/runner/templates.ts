/**
 * `{{steps.<STEP_ID>.response.body.<path>}}` templates that refer to earlier step responses.
 *
 * In text (paths, body strings, assertion keys and matcher strings) a resolved template is replaced
 * by its text form: strings raw, integers without decimals, objects and arrays as JSON. A template
 * that cannot be resolved (unknown step, unparsable body, bad or missing path, null value) stays as
 * literal text, as in the reference runner. `{{steps.<ID>.response.body}}` (no path) refers to the
 * whole body.
 *
 * Some extension cases use a second form: a step's `capture: {NAME: JSONPATH}` and `{{NAME}}` in later
 * steps. {@link substituteCaptures} replaces those before a step runs; an unknown NAME stays literal.
 * @module
 */
import type { Json } from "./json.js";
import { formatValue, isJsonObject } from "./json.js";
import { resolvePath } from "./jsonpath.js";

/** What templates can see of an executed step: its parsed response body (`undefined` if none). */
export interface TemplateSource {
  readonly body: Json | undefined;
}

/** Responses of executed steps, keyed by step id. */
export type TemplateContext = ReadonlyMap<string, TemplateSource>;

/**
 * Result of resolving a single template to a value. On failure, `missing` is true when the step ran
 * but its body has no such value (as opposed to an unknown step or an invalid path).
 */
export type TemplateValue =
  | { readonly ok: true; readonly value: Json }
  | { readonly ok: false; readonly error: string; readonly missing: boolean };

const TEMPLATE_SOURCE = String.raw`\{\{\s*steps\.([^.}\s]+)\.response\.body((?:[.[][^}]*?)?)\s*\}\}`;

function templatePattern(): RegExp {
  return new RegExp(TEMPLATE_SOURCE, "g");
}

/** Resolves one template reference to the JSON value it names. */
export function lookupTemplate(stepId: string, path: string, context: TemplateContext): TemplateValue {
  const source = context.get(stepId);
  if (source === undefined) return { ok: false, error: `step "${stepId}" has not run`, missing: false };
  if (source.body === undefined) {
    return { ok: false, error: `step "${stepId}" has no JSON response body`, missing: true };
  }
  const result = resolvePath(source.body, path);
  if (!result.ok)
    return { ok: false, error: `steps.${stepId}.response.body${path}: ${result.error}`, missing: false };
  if (result.value === undefined) {
    return { ok: false, error: `steps.${stepId}.response.body${path} is missing`, missing: true };
  }
  return { ok: true, value: result.value };
}

/** Replaces every resolvable template in `text` by the text form of its value. */
export function renderString(text: string, context: TemplateContext): string {
  if (!text.includes("{{")) return text;
  return text.replace(templatePattern(), (whole, stepId: string, path: string) => {
    const resolved = lookupTemplate(stepId, path, context);
    return resolved.ok && resolved.value !== null ? formatValue(resolved.value) : whole;
  });
}

/** Applies {@link renderString} to every string and object key inside a JSON value. */
export function renderJson(value: Json, context: TemplateContext): Json {
  if (typeof value === "string") return renderString(value, context);
  if (Array.isArray(value)) return value.map((item) => renderJson(item, context));
  if (isJsonObject(value)) {
    const out: Record<string, Json> = {};
    for (const [key, item] of Object.entries(value))
      out[renderString(key, context)] = renderJson(item, context);
    return out;
  }
  return value;
}

/**
 * Resolves a string that may be a single whole template to the referenced JSON value (keeping its
 * type); any other string is rendered as text.
 */
export function resolveTemplateValue(text: string, context: TemplateContext): TemplateValue {
  const match = new RegExp(`^\\s*${TEMPLATE_SOURCE}\\s*$`).exec(text);
  if (match === null) return { ok: true, value: renderString(text, context) };
  return lookupTemplate(match[1] ?? "", match[2] ?? "", context);
}

/** Templates still present in a rendered text (i.e. the ones that could not be resolved). */
export function unresolvedTemplates(text: string): string[] {
  return text.match(templatePattern()) ?? [];
}

const CAPTURE_PATTERN = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Replaces `{{NAME}}` of captured values in every string and object key of a JSON value. A string that
 * is exactly one such template takes the captured value itself (keeping its JSON type).
 */
export function substituteCaptures(value: Json, captured: ReadonlyMap<string, Json>): Json {
  if (captured.size === 0) return value;
  if (typeof value === "string") {
    const whole = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value);
    const own = whole?.[1] === undefined ? undefined : captured.get(whole[1]);
    if (own !== undefined) return own;
    return value.replace(CAPTURE_PATTERN, (text, name: string) => {
      const found = captured.get(name);
      return found === undefined ? text : formatValue(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => substituteCaptures(item, captured));
  if (isJsonObject(value)) {
    const out: Record<string, Json> = {};
    for (const [key, item] of Object.entries(value)) {
      const renamed = substituteCaptures(key, captured);
      out[typeof renamed === "string" ? renamed : key] = substituteCaptures(item, captured);
    }
    return out;
  }
  return value;
}
