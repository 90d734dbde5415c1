// @ts-check
// DOM building: h() makes elements from a tag, attributes and children (strings become text nodes, never
// HTML); fill() replaces an element's children; render() replaces the page's main area.

/** @typedef {Node | string | number | boolean | null | undefined | readonly any[]} Children */

/**
 * h("td", { class: "num" }, "12") — builds DOM; strings become text nodes (never HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * Replaces el's children; arrays are flattened and empty values skipped, as in h().
 * @param {Element} el
 * @param {...Children} nodes
 */
export function fill(el, ...nodes) {
  el.replaceChildren(
    .../** @type {(Node | string)[]} */ (
      nodes.flat(2).filter((n) => n !== undefined && n !== null && n !== false && n !== "")
    ),
  );
}

/** The page element with this id (index.html has it). @param {string} id */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el;
}

/** Replaces the page's main area. @param {...Children} nodes */
export function render(...nodes) {
  fill(byId("main"), ...nodes);
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;
/** A short message at the bottom of the page. @param {string} text */
export function toast(text) {
  const t = byId("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 2500);
}

/** A badge for a state; `style` picks the colour class when it differs from the state's name. */
export const badge = (/** @type {string} */ state, style = state) =>
  h("span", { class: `badge s-${style}`, "data-state": state }, state);

/** A value as indented JSON. */
export const json = (/** @type {unknown} */ v, /** @type {string | undefined} */ id = undefined) =>
  h("pre", { id }, JSON.stringify(v, null, 2));

/**
 * An API error as a paragraph, with its hint and details when it has them.
 * @param {{ message: string, code?: string, hint?: string, details?: Record<string, unknown> }} err
 */
export function errorBox(err) {
  return h(
    "div",
    { class: "error-box" },
    h("p", { class: "error" }, `${err.message}${err.code ? ` (${err.code})` : ""}`),
    err.hint ? h("p", { class: "muted" }, err.hint) : "",
    err.details && Object.keys(err.details).length
      ? h("details", {}, h("summary", {}, "details"), json(err.details))
      : "",
  );
}

/** A form's input by name. @param {HTMLFormElement} form @param {string} name */
export const field = (form, name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
