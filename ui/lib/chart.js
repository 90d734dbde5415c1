// @ts-check
// A line chart with axes (SVG, no library): time on x over a fixed window ending now, the value on y
// from 0 to a rounded maximum, tick labels on both and a title for each axis.

const NS = "http://www.w3.org/2000/svg";
/** @param {string} tag @param {Record<string, string | number>} attrs @param {string} [text] */
function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The smallest of 1, 2, 5 × 10^n at or above `v` (a readable axis maximum). @param {number} v */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

/**
 * @param {{ at: number, v: number }[]} points samples, `at` in epoch ms
 * @param {{ windowMs: number, now: number, yTitle: string, xTitle: string }} o
 */
export function lineChart(points, o) {
  const w = 600;
  const hgt = 170;
  const m = { left: 44, right: 10, top: 10, bottom: 40 };
  const pw = w - m.left - m.right;
  const ph = hgt - m.top - m.bottom;
  const max = niceMax(Math.max(0, ...points.map((p) => p.v)));
  const x = (/** @type {number} */ at) => m.left + ((at - (o.now - o.windowMs)) / o.windowMs) * pw;
  const y = (/** @type {number} */ v) => m.top + ph - (v / max) * ph;
  const svg = el("svg", { viewBox: `0 0 ${w} ${hgt}`, role: "img", class: "chart" });
  svg.append(el("title", {}, `${o.yTitle} over the last ${Math.round(o.windowMs / 60000)} minutes`));
  // y axis: 0, half and the maximum, with grid lines.
  for (const v of [0, max / 2, max]) {
    svg.append(
      el("line", { x1: m.left, x2: w - m.right, y1: y(v), y2: y(v), class: "grid" }),
      el(
        "text",
        { x: m.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick", "data-axis": "y" },
        fmt(v),
      ),
    );
  }
  // x axis: a tick each minute back from now.
  const minutes = Math.round(o.windowMs / 60000);
  for (let i = 0; i <= minutes; i++) {
    const at = o.now - (minutes - i) * 60000;
    svg.append(
      el("line", { x1: x(at), x2: x(at), y1: m.top + ph, y2: m.top + ph + 4, class: "axis" }),
      el(
        "text",
        { x: x(at), y: m.top + ph + 16, "text-anchor": "middle", class: "tick", "data-axis": "x" },
        i === minutes ? "now" : `−${minutes - i} min`,
      ),
    );
  }
  svg.append(
    el("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph, class: "axis" }),
    el("line", { x1: m.left, x2: w - m.right, y1: m.top + ph, y2: m.top + ph, class: "axis" }),
    el("text", { x: m.left + pw / 2, y: hgt - 4, "text-anchor": "middle", class: "axis-title" }, o.xTitle),
    el(
      "text",
      {
        x: 12,
        y: m.top + ph / 2,
        "text-anchor": "middle",
        class: "axis-title",
        transform: `rotate(-90 12 ${m.top + ph / 2})`,
      },
      o.yTitle,
    ),
  );
  const shown = points.filter((p) => p.at >= o.now - o.windowMs);
  svg.append(
    el("polyline", {
      points: shown.map((p) => `${x(p.at).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "),
      class: "series",
    }),
  );
  return svg;
}

/** A tick value: whole numbers plain, others with one decimal. @param {number} v */
const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
