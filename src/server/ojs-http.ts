/**
 * HTTP-binding rules that apply before any route: version negotiation (§3.2: a requested
 * `OJS-Version` whose major version this server does not speak is refused with 422 `unsupported`) and
 * CORS (§20: preflights answered, `Access-Control-Allow-Origin` only for configured origins, never a
 * wildcard on endpoints that need a token).
 */
import type { MiddlewareHandler } from "hono";

import { ErrorCode, JetjobError } from "../core/errors.js";
import { OJS_VERSION } from "./ojs.js";

const ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS =
  "Content-Type, Accept, Authorization, X-Request-Id, OJS-Version, Last-Event-ID, traceparent, tracestate";
const EXPOSE_HEADERS =
  "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, OJS-Version, Retry-After, Location";

/** Refuses a request whose `OJS-Version` names a major version other than this server's. */
export function ojsVersionCheck(): MiddlewareHandler {
  const major = OJS_VERSION.split(".")[0];
  return async (c, next) => {
    const asked = c.req.header("OJS-Version");
    if (asked !== undefined && c.req.path.startsWith("/ojs/")) {
      const m = /^\s*(\d+)(?:\.\d+)*\s*$/.exec(asked);
      if (!m || m[1] !== major) {
        throw new JetjobError(
          ErrorCode.Unsupported,
          `OJS-Version ${asked} is not supported; this server speaks OJS ${OJS_VERSION}.`,
          { details: { requested: asked, supported: [OJS_VERSION] } },
        );
      }
    }
    await next();
  };
}

/**
 * CORS for browser dashboards on another origin. `origins` lists the allowed origins exactly
 * (`https://admin.example.com`); `*` allows any origin (development only: the origin is echoed, as a
 * literal `*` cannot carry the Authorization header). Preflights are answered with 204 whatever the
 * origin; without an allowed origin the browser then refuses the request itself.
 */
export function cors(origins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(origins);
  const allows = (origin: string | undefined): origin is string =>
    origin !== undefined && (allowed.has("*") || allowed.has(origin));
  return async (c, next) => {
    const origin = c.req.header("Origin");
    if (c.req.method === "OPTIONS") {
      const headers: Record<string, string> = {
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "86400",
        Vary: "Origin",
      };
      if (allows(origin)) headers["Access-Control-Allow-Origin"] = origin;
      return c.body(null, 204, headers);
    }
    await next();
    if (allows(origin)) {
      c.res.headers.set("Access-Control-Allow-Origin", origin);
      c.res.headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
      c.res.headers.append("Vary", "Origin");
    }
  };
}
