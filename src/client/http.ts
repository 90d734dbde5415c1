/**
 * The HTTP transport of the client SDK: the OJS binding of a jetjob API server. API errors come back
 * as {@link JetjobError} with the server's stable code.
 */
import { BackendError, ErrorCode, JetjobError } from "../core/errors.js";
import type {
  Api,
  CronInfo,
  ExclusiveKeyInfo,
  JobEvent,
  JobPage,
  LockGrantInfo,
  LockInfo,
  QueueConfig,
  QueueDeleted,
  QueueInfo,
  QueueStats,
  StorageInfo,
  WorkflowInfo,
} from "./api.js";
import { endsJobStream as endsStream } from "../usecases/job-stream.js";
import type { Job } from "./types.js";

const MEDIA = "application/openjobspec+json";
const codes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export interface HttpCaller {
  call<T>(method: string, path: string, body?: unknown, extra?: CallOptions): Promise<T>;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Overrides the caller's timeout (long waits such as lock acquisition). */
  timeoutMs?: number;
  /** Extra request headers (e.g. `traceparent`). */
  headers?: Record<string, string>;
}

export function createHttpCaller(baseUrl: string, o: { token?: string; timeoutMs?: number }): HttpCaller {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    async call<T>(method: string, path: string, body?: unknown, extra: CallOptions = {}): Promise<T> {
      const headers: Record<string, string> = { ...extra.headers, Accept: MEDIA };
      if (o.token) headers.Authorization = `Bearer ${o.token}`;
      if (body !== undefined) headers["Content-Type"] = MEDIA;
      let res: Response;
      try {
        res = await fetch(base + path, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.any([
            AbortSignal.timeout(extra.timeoutMs ?? o.timeoutMs ?? 30_000),
            ...(extra.signal ? [extra.signal] : []),
          ]),
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
    body as {
      error?: {
        code?: string;
        type?: string;
        message?: string;
        details?: Record<string, unknown>;
        hint?: string;
      };
    }
  )?.error;
  // OJS routes send jetjob's own codes with the `x_` prefix (http-binding §16.3), or an extension's
  // spelling (`QUEUE_FULL`); `type` is always jetjob's code.
  const raw =
    e?.type !== undefined && codes.has(e.type)
      ? e.type
      : e?.code?.startsWith("x_")
        ? e.code.slice(2)
        : e?.code;
  const code =
    raw && codes.has(raw)
      ? (raw as ErrorCode)
      : status >= 500
        ? ErrorCode.BackendError
        : ErrorCode.InvalidRequest;
  return new JetjobError(code, e?.message ?? `HTTP ${status}`, { details: e?.details, hint: e?.hint });
}

export function createHttpTransport(url: string, o: { token?: string; timeoutMs?: number }): Api {
  const http = createHttpCaller(url, o);
  const base = url.replace(/\/+$/, "");
  const enc = encodeURIComponent;
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
      return (await http.call<{ job: Job }>("GET", `/ojs/v1/jobs/${enc(id)}`)).job;
    },
    async cancel(id) {
      return (await http.call<{ job: Job }>("DELETE", `/ojs/v1/jobs/${enc(id)}`)).job;
    },
    async retry(id) {
      return (await http.call<{ job: Job }>("POST", `/api/v1/jobs/${enc(id)}/retry`, {})).job;
    },
    list(q) {
      const p = new URLSearchParams({ queue: q.queue });
      if (q.state) p.set("state", q.state);
      if (q.limit !== undefined) p.set("limit", String(q.limit));
      if (q.cursor) p.set("cursor", q.cursor);
      return http.call<JobPage>("GET", `/api/v1/jobs?${p.toString()}`);
    },
    watch(id, signal) {
      return sseEvents(`${base}/ojs/v1/jobs/${enc(id)}/events`, o.token, signal);
    },
    queues: {
      async list() {
        return (await http.call<{ queues: QueueInfo[] }>("GET", "/ojs/v1/queues?limit=1000")).queues;
      },
      async stats(name) {
        // http-binding §11.2: `queue` is the name, the counts are under `stats`.
        const r = await http.call<{
          name: string;
          paused: boolean;
          stats: Omit<QueueStats, "name" | "paused">;
        }>("GET", `/ojs/v1/queues/${enc(name)}/stats`);
        return { name: r.name, paused: r.paused, ...r.stats };
      },
      async setPaused(name, paused) {
        const r = await http.call<{ name: string; paused: boolean }>(
          "POST",
          `/ojs/v1/queues/${enc(name)}/${paused ? "pause" : "resume"}`,
          {},
        );
        return { name: r.name, paused: r.paused };
      },
      async configure(name, change) {
        return (await http.call<{ queue: QueueConfig }>("PUT", `/api/v1/queues/${enc(name)}/config`, change))
          .queue;
      },
      async delete(name) {
        return http.call<QueueDeleted>("DELETE", `/api/v1/queues/${enc(name)}`);
      },
    },
    async storage() {
      return (await http.call<{ storage: StorageInfo }>("GET", "/api/v1/storage")).storage;
    },
    async exclusiveKeys(q) {
      const p = q.queue === undefined ? "" : `?queue=${enc(q.queue)}`;
      return (await http.call<{ keys: ExclusiveKeyInfo[] }>("GET", `/api/v1/exclusive-keys${p}`)).keys;
    },
    locks: {
      async acquire(req, signal) {
        const timeoutMs = (req.wait_ms ?? 0) + 30_000;
        return (await http.call<{ lock: LockGrantInfo }>("POST", "/api/v1/locks", req, { signal, timeoutMs }))
          .lock;
      },
      async renew(name, token, ttlMs) {
        const body = ttlMs === undefined ? { token } : { token, ttl_ms: ttlMs };
        return (await http.call<{ lock: LockGrantInfo }>("POST", `/api/v1/locks/${enc(name)}/renew`, body))
          .lock;
      },
      release(name, token) {
        return http.call<{ released: true; name: string }>("POST", `/api/v1/locks/${enc(name)}/release`, {
          token,
        });
      },
      async list() {
        return (await http.call<{ locks: LockInfo[] }>("GET", "/api/v1/locks")).locks;
      },
    },
    deadLetters: {
      async list(q) {
        const p = new URLSearchParams();
        if (q.queue) p.set("queue", q.queue);
        if (q.limit !== undefined) p.set("limit", String(q.limit));
        if (q.offset !== undefined) p.set("offset", String(q.offset));
        const r = await http.call<{ jobs: Job[]; pagination: { total: number } }>(
          "GET",
          `/ojs/v1/dead-letter?${p.toString()}`,
        );
        return { jobs: r.jobs, total: r.pagination.total };
      },
      async retry(id) {
        return (await http.call<{ job: Job }>("POST", `/ojs/v1/dead-letter/${enc(id)}/retry`, {})).job;
      },
      delete(id) {
        return http.call<{ deleted: true; job_id: string }>("DELETE", `/ojs/v1/dead-letter/${enc(id)}`);
      },
    },
    cron: {
      async list() {
        // Every schedule: the list is paged (http-binding §17), 1,000 a page.
        const all: CronInfo[] = [];
        let cursor: string | undefined;
        do {
          const r = await http.call<{ crons: CronInfo[]; pagination?: { next_cursor?: string } }>(
            "GET",
            `/ojs/v1/cron?limit=1000${cursor === undefined ? "" : `&cursor=${enc(cursor)}`}`,
          );
          all.push(...r.crons);
          cursor = r.pagination?.next_cursor;
        } while (cursor !== undefined);
        return all;
      },
      async register(body) {
        return (await http.call<{ cron: CronInfo }>("POST", "/ojs/v1/cron", body)).cron;
      },
      async delete(name) {
        return (await http.call<{ cron: CronInfo }>("DELETE", `/ojs/v1/cron/${enc(name)}`)).cron;
      },
      async setEnabled(name, enabled) {
        const op = enabled ? "resume" : "pause";
        return (await http.call<{ cron_job: CronInfo }>("POST", `/ojs/v1/cron/${enc(name)}/${op}`)).cron_job;
      },
      async trigger(name) {
        return (await http.call<{ job: Job }>("POST", `/ojs/v1/cron/${enc(name)}/trigger`)).job;
      },
    },
    workflows: {
      async create(body) {
        return (await http.call<{ workflow: WorkflowInfo }>("POST", "/ojs/v1/workflows", body)).workflow;
      },
      async get(id) {
        return (await http.call<{ workflow: WorkflowInfo }>("GET", `/ojs/v1/workflows/${enc(id)}`)).workflow;
      },
      async cancel(id) {
        return (await http.call<{ workflow: WorkflowInfo }>("DELETE", `/ojs/v1/workflows/${enc(id)}`))
          .workflow;
      },
    },
    close: () => Promise.resolve(),
  };
}

/** Reads a Server-Sent Events stream of job events until it ends, the job finishes, or `signal` aborts. */
function sseEvents(url: string, token: string | undefined, signal?: AbortSignal): AsyncIterable<JobEvent> {
  return sseStream<JobEvent>(url, token, endsStream, signal);
}

/** Reads a Server-Sent Events stream of JSON `data:` lines until it ends, `last` says so, or `signal` aborts. */
export async function* sseStream<T>(
  url: string,
  token: string | undefined,
  last: (item: T) => boolean,
  signal?: AbortSignal,
): AsyncIterable<T> {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, { headers, ...(signal ? { signal } : {}) });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    throw apiError(res.status, parsed);
  }
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      const e = JSON.parse(data) as T;
      yield e;
      if (last(e)) return;
    }
  }
}
