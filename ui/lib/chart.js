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
 * The value axis: 0, half and the maximum, each with a grid line and its label.
 * @param {SVGElement} svg
 * @param {{ w: number, m: { left: number, right: number }, max: number, y: (v: number) => number, format: (v: number) => string }} o
 */
function yTicks(svg, o) {
  for (const v of [0, o.max / 2, o.max]) {
    svg.append(
      el("line", { x1: o.m.left, x2: o.w - o.m.right, y1: o.y(v), y2: o.y(v), class: "grid" }),
      el(
        "text",
        { x: o.m.left - 6, y: o.y(v) + 4, "text-anchor": "end", class: "tick", "data-axis": "y" },
        o.format(v),
      ),
    );
  }
}

/**
 * @param {{ at: number, v: number }[]} points samples, `at` in epoch ms
 * @param {{ windowMs: number, now: number, yTitle: string, xTitle: string }} o
 */
export function lineChart(points, o) {
  return linesChart([{ name: o.yTitle, points }], o);
}

/**
 * Several series over one time window (one colour each: classes `s1`, `s2`, …; `legend()` names them).
 * @param {{ name: string, points: { at: number, v: number }[] }[]} series samples, `at` in epoch ms
 * @param {{ windowMs: number, now: number, yTitle: string, xTitle: string, tickEveryMin?: number, width?: number }} o
 */
export function linesChart(series, o) {
  const w = o.width ?? 600;
  const hgt = 170;
  // Room on the left for four-digit tick labels beside the axis title.
  const m = { left: 58, right: 10, top: 10, bottom: 40 };
  const pw = w - m.left - m.right;
  const ph = hgt - m.top - m.bottom;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v))));
  const x = (/** @type {number} */ at) => m.left + ((at - (o.now - o.windowMs)) / o.windowMs) * pw;
  const y = (/** @type {number} */ v) => m.top + ph - (v / max) * ph;
  const svg = el("svg", { viewBox: `0 0 ${w} ${hgt}`, role: "img", class: "chart" });
  svg.append(el("title", {}, `${o.yTitle} over the last ${Math.round(o.windowMs / 60000)} minutes`));
  yTicks(svg, { w, m, max, y, format: fmt });
  // x axis: a tick every `tickEveryMin` minutes back from now.
  const minutes = Math.round(o.windowMs / 60000);
  const step = o.tickEveryMin ?? 1;
  for (let i = 0; i <= minutes; i += step) {
    const back = minutes - i;
    const at = o.now - back * 60000;
    svg.append(
      el("line", { x1: x(at), x2: x(at), y1: m.top + ph, y2: m.top + ph + 4, class: "axis" }),
      el(
        "text",
        { x: x(at), y: m.top + ph + 16, "text-anchor": "middle", class: "tick", "data-axis": "x" },
        back === 0 ? "now" : `−${back} min`,
      ),
    );
  }
  axes(svg, { w, hgt, m, pw, ph }, o);
  series.forEach((s, k) => {
    const shown = s.points.filter((p) => p.at >= o.now - o.windowMs);
    svg.append(
      el("polyline", {
        points: shown.map((p) => `${x(p.at).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "),
        class: `series s${k + 1}`,
        "data-series": s.name,
        "data-total": shown.reduce((a, p) => a + p.v, 0),
      }),
    );
  });
  return svg;
}

/**
 * Bars in groups (e.g. wait and run, each with p50/p95/p99) on a value axis from 0.
 * @param {{ label: string, bars: { name: string, v: number | undefined }[] }[]} groups
 * @param {{ yTitle: string, xTitle: string, width?: number, format?: (v: number) => string }} o
 */
export function barChart(groups, o) {
  const w = o.width ?? 420;
  const hgt = 190;
  // Room on the left for tick labels with a unit ("250 ms") beside the axis title.
  const m = { left: 70, right: 10, top: 16, bottom: 40 };
  const pw = w - m.left - m.right;
  const ph = hgt - m.top - m.bottom;
  const f = o.format ?? fmt;
  const max = niceMax(Math.max(0, ...groups.flatMap((g) => g.bars.map((b) => b.v ?? 0))));
  const y = (/** @type {number} */ v) => m.top + ph - (v / max) * ph;
  const svg = el("svg", { viewBox: `0 0 ${w} ${hgt}`, role: "img", class: "chart" });
  svg.append(el("title", {}, `${o.yTitle} by ${o.xTitle}`));
  yTicks(svg, { w, m, max, y, format: f });
  const gw = pw / Math.max(1, groups.length);
  groups.forEach((g, gi) => {
    const bw = (gw * 0.7) / Math.max(1, g.bars.length);
    const x0 = m.left + gi * gw + gw * 0.15;
    g.bars.forEach((b, bi) => {
      const bx = x0 + bi * bw;
      const attrs = { "data-group": g.label, "data-series": b.name };
      if (b.v === undefined) {
        svg.append(
          el("text", { x: bx + bw / 2, y: y(0) - 4, "text-anchor": "middle", class: "tick", ...attrs }, "–"),
        );
        return;
      }
      svg.append(
        el("rect", {
          x: bx + 1,
          y: y(b.v),
          width: Math.max(1, bw - 2),
          height: Math.max(0, y(0) - y(b.v)),
          class: `bar s${bi + 1}`,
          "data-value": b.v,
          ...attrs,
        }),
        el("text", { x: bx + bw / 2, y: y(b.v) - 3, "text-anchor": "middle", class: "tick" }, b.name),
      );
      svg.lastChild?.appendChild(el("title", {}, `${g.label} ${b.name}: ${f(b.v)}`));
    });
    svg.append(
      el(
        "text",
        {
          x: m.left + gi * gw + gw / 2,
          y: m.top + ph + 16,
          "text-anchor": "middle",
          class: "tick",
          "data-axis": "x",
        },
        g.label,
      ),
    );
  });
  axes(svg, { w, hgt, m, pw, ph }, o);
  return svg;
}

/**
 * The two axis lines and their titles.
 * @param {SVGElement} svg
 * @param {{ w: number, hgt: number, m: { left: number, right: number, top: number, bottom: number }, pw: number, ph: number }} g
 * @param {{ yTitle: string, xTitle: string }} o
 */
function axes(svg, { w, hgt, m, pw, ph }, o) {
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
}

/** A tick value: whole numbers plain, others with one decimal. @param {number} v */
const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
