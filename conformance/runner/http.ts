/**
 * Sending one HTTP request for a step and recording what came back.
 * @module
 */
import type { Json } from "./json.js";
import { tryParseJson } from "./json.js";

/** Media type used by OJS and sent by default with request bodies. */
export const OJS_MEDIA_TYPE = "application/openjobspec+json";

/** Per-request timeout of the reference runner. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** A request to send. */
export interface RequestSpec {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Request body text; `undefined` sends no body. */
  readonly body?: string;
}

/** A recorded response. */
export interface ResponseRecord {
  readonly status: number;
  /** Response headers with lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Raw body text. */
  readonly text: string;
  /** Parsed body (any JSON value), `undefined` when empty or not JSON. */
  readonly body: Json | undefined;
  /** Time from sending the request to having read the whole body. */
  readonly durationMs: number;
}

/** The request could not be completed (connection refused, timeout, invalid request …). */
export class RequestError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RequestError";
  }
}

function hasHeader(headers: Readonly<Record<string, string>>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((key) => key.toLowerCase() === lower);
}

/**
 * Builds the headers of a request: the step's own headers, `Authorization: Bearer <token>` unless the
 * step sets one, and `Content-Type: application/openjobspec+json` when a body is sent without one.
 */
export function buildHeaders(
  stepHeaders: Readonly<Record<string, string>>,
  options: { readonly token?: string | undefined; readonly hasBody: boolean },
): Record<string, string> {
  const headers: Record<string, string> = { ...stepHeaders };
  if (options.token !== undefined && options.token !== "" && !hasHeader(headers, "Authorization")) {
    headers["Authorization"] = `Bearer ${options.token}`;
  }
  if (options.hasBody && !hasHeader(headers, "Content-Type")) headers["Content-Type"] = OJS_MEDIA_TYPE;
  return headers;
}

/** Joins a base URL and a case path (`/ojs/v1/...`) without doubling slashes. */
export function joinUrl(baseUrl: string, path: string): string {
  if (path === "") return baseUrl;
  return `${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError" || err.name === "AbortError") return `timed out after ${timeoutMs} ms`;
    const cause: unknown = err.cause;
    if (cause instanceof Error) {
      const code = "code" in cause ? cause.code : undefined;
      return `${err.message} (${typeof code === "string" ? code : cause.message})`;
    }
    return err.message;
  }
  return String(err);
}

/** Sends a request and reads the full response; throws {@link RequestError} on transport failure. */
export async function sendRequest(
  spec: RequestSpec,
  timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<ResponseRecord> {
  const started = performance.now();
  try {
    const response = await fetch(spec.url, {
      method: spec.method,
      headers: spec.headers,
      ...(spec.body !== undefined && { body: spec.body }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    const text = await response.text();
    const durationMs = performance.now() - started;
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return { status: response.status, headers, text, body: tryParseJson(text), durationMs };
  } catch (err) {
    throw new RequestError(`${spec.method} ${spec.url}: ${describeFetchError(err, timeoutMs)}`, {
      cause: err,
    });
  }
}
