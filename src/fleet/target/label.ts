/**
 * Agent labels: `key:value` pairs whose values are dotted hierarchies such as `web.dev.us-east`. A wanted
 * value selects the label value itself and everything below it: `web.dev` matches `web.dev` and
 * `web.dev.us-east`, never `web.development`. Keys are one segment; keys and values are case-sensitive.
 * The key `host` is reserved: in a target, `host:NAME` means the hostname.
 */

/** A label key: one segment of letters, digits, `_` and `-`. */
export const LABEL_KEY = /^[A-Za-z0-9_-]+$/;
/** A label value: segments of letters, digits, `_` and `-` joined by dots. */
export const LABEL_VALUE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
export const MAX_LABEL_KEY_LENGTH = 64;
export const MAX_LABEL_VALUE_LENGTH = 256;

const SEGMENT_CHAR = /^[A-Za-z0-9_-]$/;

/** What is wrong with a label, and where: `offset` counts from the start of the text `key:value`. */
export interface LabelProblem {
  offset: number;
  message: string;
}

/** Checks a label key and value; the offset of a problem is into `${key}:${value}`. */
export function checkLabel(key: string, value: string): LabelProblem | undefined {
  if (key.length === 0) return { offset: 0, message: "expected a label key before ':'" };
  for (let i = 0; i < key.length; i++) {
    const c = key.charAt(i);
    if (!SEGMENT_CHAR.test(c))
      return { offset: i, message: `bad character '${c}' in label key (use letters, digits, '_' and '-')` };
  }
  if (key.length > MAX_LABEL_KEY_LENGTH)
    return {
      offset: MAX_LABEL_KEY_LENGTH,
      message: `label key is longer than ${MAX_LABEL_KEY_LENGTH} characters`,
    };
  if (key.toLowerCase() === "host")
    return { offset: 0, message: "the label key 'host' is reserved for the hostname" };
  const base = key.length + 1;
  if (value.length === 0) return { offset: base, message: "expected a label value after ':'" };
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c === ".") {
      if (i === 0 || i === value.length - 1 || value.charAt(i - 1) === ".")
        return {
          offset: base + i,
          message: "empty segment in label value (segments are joined by single dots)",
        };
    } else if (!SEGMENT_CHAR.test(c)) {
      return {
        offset: base + i,
        message: `bad character '${c}' in label value (use letters, digits, '_', '-' and '.')`,
      };
    }
  }
  if (value.length > MAX_LABEL_VALUE_LENGTH)
    return {
      offset: base + MAX_LABEL_VALUE_LENGTH,
      message: `label value is longer than ${MAX_LABEL_VALUE_LENGTH} characters`,
    };
  return undefined;
}

/** Checks a label an agent wants to carry; returns a problem description, or undefined when it is usable. */
export function validateLabel(key: string, value: string): string | undefined {
  return checkLabel(key, value)?.message;
}

/** The hierarchical rule: the agent's value equals the wanted value or lies below it (`wanted.` prefix). */
export function labelMatches(labelValue: string | undefined, wanted: string): boolean {
  if (typeof labelValue !== "string") return false;
  return labelValue === wanted || labelValue.startsWith(`${wanted}.`);
}
