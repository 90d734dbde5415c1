/**
 * The web dashboard: a static single-page app (`ui/` in the package: index.html, app.css, app.js and
 * the ES modules it imports from ui/lib/ and ui/views/, loaded by the browser as they are, no build
 * step) served at `/`. The files carry no data; the app asks for a token and calls the same API as the
 * CLI with it, so the dashboard has exactly the API's auth and scopes.
 *
 * Only the files found under `ui/` when the server starts are served (a fixed list, so no request path
 * reaches the file system), plus `/ui/lib/names.js`, which is built here from the server's own job
 * states and event types so the dashboard keeps no copy of them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

import type { Hono } from "hono";

import { allJobStates } from "../core/states.js";
import { packageRoot } from "../natsd/find.js";
import { EventType } from "../store/jobs/events.js";

const types: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

const typeOf = (name: string): string => types[name.slice(name.lastIndexOf(".") + 1)]!;

/** The module of names the dashboard takes from the server (ui/lib/names.d.ts types it). */
export function namesModule(): string {
  return [
    "// Built by the server (src/server/ui.ts) from its job states and event types.",
    `export const jobStates = ${JSON.stringify(allJobStates)};`,
    `export const eventTypes = ${JSON.stringify(Object.values(EventType))};`,
    "",
  ].join("\n");
}

/** The dashboard's .js and .css files under `dir`, as paths relative to it with `/` separators. */
function assets(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => relative(dir, join(dir, p)).split(sep).join("/"))
    .filter((p) => /^[a-z0-9/_-]+\.(js|css)$/i.test(p))
    .sort();
}

export function registerUi(hono: Hono, dir = join(packageRoot, "ui")): void {
  const cache = new Map<string, string>([["lib/names.js", namesModule()]]);
  const file = (name: string) => {
    let text = cache.get(name);
    if (text === undefined) {
      text = readFileSync(join(dir, name), "utf8");
      cache.set(name, text);
    }
    return text;
  };
  const headers = (name: string) => ({
    "Content-Type": typeOf(name),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    ...(name === "index.html"
      ? {
          "Content-Security-Policy":
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        }
      : {}),
  });
  hono.get("/", (c) => c.body(file("index.html"), 200, headers("index.html")));
  hono.get("/favicon.ico", (c) => c.body(null, 204));
  for (const name of new Set([...assets(dir), "lib/names.js"])) {
    hono.get(`/ui/${name}`, (c) => c.body(file(name), 200, headers(name)));
  }
}
