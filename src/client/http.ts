/**
 * The HTTP transport of the client SDK: the OJS binding of a jetjob API server. API errors come back
 * as {@link JetjobError} with the server's stable code.
 */
import { BackendError, ErrorCode, JetjobError } from "../core/errors.js";
import type { Transport } from "./client.js";
import type { Job } from "./types.js";

const MEDIA = "application/openjobspec+json";
const codes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export interface HttpCaller {
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export function createHttpCaller(baseUrl: string, o: { token?: string; timeoutMs?: number }): HttpCaller {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { Accept: MEDIA };
      if (o.token) headers.Authorization = `Bearer ${o.token}`;
      if (body !== undefined) headers["Content-Type"] = MEDIA;
      let res: Response;
      try {
        res = await fetch(base + path, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
        });
      } catch (err) {
        throw new BackendError(
          `cannot reach the jetjob API at ${base}: ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
            hint: "Is `jetjob start` (or `jetjob server`) running? Check --api / JETJOB_API_URL.",
          },
        );
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!res.ok) throw apiError(res.status, parsed);
      return parsed as T;
    },
  };
}

function apiError(status: number, body: unknown): JetjobError {
  const e = (
    body as { error?: { code?: string; message?: string; details?: Record<string, unknown>; hint?: string } }
  )?.error;
  const code =
    e?.code && codes.has(e.code)
      ? (e.code as ErrorCode)
      : status >= 500
        ? ErrorCode.BackendError
        : ErrorCode.InvalidRequest;
  return new JetjobError(code, e?.message ?? `HTTP ${status}`, { details: e?.details, hint: e?.hint });
}

export function createHttpTransport(url: string, o: { token?: string; timeoutMs?: number }): Transport {
  const http = createHttpCaller(url, o);
  return {
    async enqueue(bodies, atomic) {
      if (!atomic && bodies.length === 1) {
        const r = await http.call<{ job: Job }>("POST", "/ojs/v1/jobs", bodies[0]);
        return [r.job];
      }
      const r = await http.call<{ jobs: Job[] }>("POST", "/ojs/v1/jobs/batch", { jobs: bodies });
      return r.jobs;
    },
    async get(id) {
      return (await http.call<{ job: Job }>("GET", `/ojs/v1/jobs/${encodeURIComponent(id)}`)).job;
    },
    async cancel(id) {
      return (await http.call<{ job: Job }>("DELETE", `/ojs/v1/jobs/${encodeURIComponent(id)}`)).job;
    },
    close: () => Promise.resolve(),
  };
}
