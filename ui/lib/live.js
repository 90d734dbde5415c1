// @ts-check
// Live updates of the current view: SSE streams and timers, all closed when the view changes.
import { currentToken, nextView } from "./api.js";
import { byId } from "./dom.js";
import { eventTypes } from "./names.js";

/** @type {EventSource[]} */
let streams = [];
/** @type {ReturnType<typeof setInterval>[]} */
let timers = [];

/**
 * Opens a live stream of the current view; `onEvent` gets every event's parsed data.
 * @param {string} path
 * @param {(event: any) => void} onEvent
 */
export function stream(path, onEvent) {
  const liveDot = byId("live");
  const sep = path.includes("?") ? "&" : "?";
  const es = new EventSource(`${path}${sep}access_token=${encodeURIComponent(currentToken() ?? "")}`);
  es.onopen = () => liveDot.classList.add("on");
  es.onerror = () => liveDot.classList.remove("on");
  es.onmessage = (m) => onEvent(JSON.parse(m.data));
  // Fleet timelines come as "timeline"; queue and job streams as the lifecycle event types.
  for (const type of ["timeline", ...eventTypes]) {
    es.addEventListener(type, (m) => onEvent(JSON.parse(/** @type {MessageEvent} */ (m).data)));
  }
  streams.push(es);
  return es;
}

/** Calls fn every `ms` while the view is shown. @param {number} ms @param {() => void} fn */
export function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}

/** Closes the current view's streams and timers, and drops the answers its calls still await. */
export function stopLive() {
  nextView();
  for (const s of streams) s.close();
  for (const t of timers) clearInterval(t);
  streams = [];
  timers = [];
  byId("live").classList.remove("on");
}

/**
 * Calls fn at most once per `ms` (trailing).
 * @param {() => unknown} fn
 */
export function debounce(fn, ms = 250) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let t;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}
