/**
 * One JSON client for tests that call a running API server with a bearer token (the dashboard,
 * CLI and route tests): the status and the parsed body, or the body of a 2xx answer.
 */
import assert from "node:assert/strict";

/** Calls the API with `token`; answers the status and the parsed body (undefined when empty). */
export async function sendJson(
  api: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; body: unknown }> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** {@link sendJson} that fails the test on a non-2xx answer and answers the parsed body. */
export async function callJson<T>(
  api: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const r = await sendJson(api, token, method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
  return r.body as T;
}
