/**
 * The web dashboard: a static single-page app (`ui/` in the package: index.html, app.js, app.css)
 * served at `/`. The files carry no data; the app asks for a token and calls the same API as the
 * CLI with it, so the dashboard has exactly the API's auth and scopes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { Hono } from "hono";

import { packageRoot } from "../natsd/find.js";

const types: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

export function registerUi(hono: Hono, dir = join(packageRoot, "ui")): void {
  const cache = new Map<string, string>();
  const file = (name: string) => {
    let text = cache.get(name);
    if (text === undefined) {
      text = readFileSync(join(dir, name), "utf8");
      cache.set(name, text);
    }
    return text;
  };
  const headers = (name: string) => ({
    "Content-Type": types[name]!,
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
  for (const name of ["app.js", "app.css"]) {
    hono.get(`/ui/${name}`, (c) => c.body(file(name), 200, headers(name)));
  }
}
