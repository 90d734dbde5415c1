/**
 * Headers set on Node's response directly. Served by @hono/node-server, an answer built with
 * `c.body()` and plain headers is written straight to the socket; a header added through Hono
 * (`c.header()`, or `c.res.headers` afterwards) turns it into a Web `Headers` object that the adapter
 * converts back, a measurable share of a small request's CPU. Headers known before the answer is
 * built go on Node's `ServerResponse` instead, which merges them into the head it writes. Under
 * `app.request()` (tests) there is no Node response and Hono's way is used.
 */
import { ServerResponse } from "node:http";

import type { Context } from "hono";

/** Node's response for this request when the app is served by @hono/node-server and nothing is sent yet. */
export function nodeResponseOf(c: { env: unknown }): ServerResponse | undefined {
  const env: unknown = c.env;
  if (typeof env !== "object" || env === null || !("outgoing" in env)) return undefined;
  const out = env.outgoing;
  return out instanceof ServerResponse && !out.headersSent ? out : undefined;
}

/** Sets a header of the answer to come: on Node's response when there is one, else through Hono. */
export function setAnswerHeader(c: Context, name: string, value: string): void {
  const node = nodeResponseOf(c);
  if (node) node.setHeader(name, value);
  else c.header(name, value);
}
