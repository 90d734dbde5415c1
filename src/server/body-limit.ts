/**
 * The request body size limit. A body whose `Content-Length` says it is too large is refused with 413
 * before a byte of it is read; that check only reads a header, so the body stays on the Node adapter's
 * fast path (read straight from the socket by `c.req.text()`, no Web `Request`/`ReadableStream` made
 * for it, which cost about a sixth of the CPU of a single push). Only a body of unknown length
 * (chunked) goes through Hono's streaming limit, which counts it as it arrives.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";

import { ErrorCode, JetjobError } from "../core/errors.js";

export function bodyLimitMiddleware(maxBytes: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new JetjobError(ErrorCode.PayloadTooLarge, `The request body exceeds ${maxBytes} bytes.`);
  };
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") return next();
    const length = c.req.header("Content-Length");
    if (length !== undefined && c.req.header("Transfer-Encoding") === undefined) {
      if (Number(length) > maxBytes) tooLarge();
      return next();
    }
    return streaming(c, next);
  };
}
