// @ts-check
// Locks and exclusive keys held now.
import { api } from "../lib/api.js";
import { h, render } from "../lib/dom.js";
import { time } from "../lib/format.js";
import { every } from "../lib/live.js";

export async function locksView() {
  const locks = h("div");
  const keys = h("div");
  render(
    h("h1", {}, "Locks and exclusive keys"),
    h("h2", {}, "Locks"),
    locks,
    h("h2", {}, "Exclusive keys"),
    keys,
  );
  async function refresh() {
    const [l, k] = await Promise.all([api("GET", "/api/v1/locks"), api("GET", "/api/v1/exclusive-keys")]);
    locks.replaceChildren(
      l.locks.length === 0
        ? h("p", { class: "muted" }, "No locks held.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...["name", "owner", "fencing token", "acquired", "expires"].map((t) => h("th", {}, t)),
            ),
            ...l.locks.map((x) =>
              h(
                "tr",
                {},
                h("td", {}, x.name),
                h("td", {}, x.owner ?? "–"),
                h("td", { class: "num" }, x.fencing_token),
                h("td", {}, time(x.acquired_at)),
                h("td", {}, time(x.expires_at)),
              ),
            ),
          ),
    );
    keys.replaceChildren(
      k.keys.length === 0
        ? h("p", { class: "muted" }, "No exclusive keys held.")
        : h(
            "table",
            {},
            h("tr", {}, ...["key", "holder", "since", "waiting"].map((t) => h("th", {}, t))),
            ...k.keys.map((x) =>
              h(
                "tr",
                {},
                h("td", { class: "mono" }, x.key),
                h("td", {}, x.holder ? h("a", { href: `#/jobs/${x.holder.job_id}` }, x.holder.job_id) : "–"),
                h("td", {}, x.holder ? time(x.holder.since) : "–"),
                h("td", { class: "num" }, x.waiting),
              ),
            ),
          ),
    );
  }
  await refresh();
  every(3000, () => void refresh().catch(() => undefined));
}
