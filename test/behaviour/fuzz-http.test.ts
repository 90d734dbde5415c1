/**
 * Bad input over HTTP, property-based (fast-check) over the whole route table: malformed and
 * truncated JSON, wrong types for every known body field (derived from the routes' zod schemas),
 * non-object bodies, bodies over the size limit, hostile path parameters, bad fleet targets, bad cron
 * expressions, unknown and invalid queues and random query strings. The server must answer every one
 * of them in time, never with a 5xx, and refusals carry `{ error: { code } }` with a documented code.
 * Afterwards the server still works.
 *
 * Reproducible by default (fixed seed); `JETJOB_FUZZ_SEED=<n>` explores other inputs and
 * `JETJOB_FUZZ_SCALE=<factor>` tries more of them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import fc from "fast-check";
import { z } from "zod";

import { ErrorCode } from "../../src/core/errors.js";
import { jobTypeSchema, queueNameSchema, rateLimitKeySchema } from "../../src/core/schema.js";
import type { RouteDef } from "../../src/server/route.js";
import type { TestApp } from "../harness/app.js";
import { fillPath, sampleParams, startTestApp, testTokens } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const seed = Number.parseInt(process.env.JETJOB_FUZZ_SEED ?? "20240611", 10);
const MAX_BODY = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;
/** jetjob's codes, also as OJS routes send those outside the OJS vocabulary (`x_`, http-binding §16.3). */
const errorCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode).flatMap((c) => [c, `x_${c}`]));
const tally = { requests: 0, serverErrors: 0, unsendable: 0 };
/** `JETJOB_FUZZ_SCALE=10` tries ten times as many inputs (for a long local run). */
const scale = Number(process.env.JETJOB_FUZZ_SCALE ?? 1);
const runs = (n: number) => ({
  seed,
  numRuns: Math.max(1, Math.round(n * scale)),
  includeErrorInReport: true,
});

interface Reply {
  status: number;
  json: unknown;
  stream: boolean;
}

const key = (r: Pick<RouteDef, "method" | "path">) => `${r.method} ${r.path}`;

/** A request body known to pass each route's schema, so a single changed field is what fails. */
let lockNo = 0;
const baseBodies: Record<string, () => Record<string, unknown>> = {
  "POST /ojs/v1/jobs": () => ({ type: "fuzz.job", args: [1] }),
  "POST /ojs/v1/jobs/batch": () => ({ jobs: [{ type: "fuzz.job", args: [] }] }),
  "POST /ojs/v1/workers/fetch": () => ({ queues: ["fuzz-fetch"], count: 1 }),
  "POST /ojs/v1/workers/ack": () => ({ job_id: sampleParams.id }),
  "POST /ojs/v1/workers/nack": () => ({ job_id: sampleParams.id, error: { message: "x" } }),
  "POST /ojs/v1/workers/heartbeat": () => ({ job_id: sampleParams.id }),
  "PUT /ojs/v1/jobs/{id}/progress": () => ({ progress: 0.5, message: "m", data: { n: 1 } }),
  "POST /ojs/v1/workers/progress": () => ({ job_id: sampleParams.id, percentage: 50 }),
  "POST /ojs/v1/workers/beat": () => ({ worker_id: "fuzz-worker", state: "running", active_jobs: 0 }),
  // Admin API bulk operations and switches (ids of no job; maintenance off; a directive never sent valid).
  "POST /ojs/v1/admin/jobs/bulk/retry": () => ({ job_ids: [sampleParams.id], confirm: true }),
  "POST /ojs/v1/admin/jobs/bulk/cancel": () => ({ job_ids: [sampleParams.id], confirm: true }),
  "POST /ojs/v1/admin/jobs/bulk/promote": () => ({ job_ids: [sampleParams.id], confirm: true }),
  "POST /ojs/v1/admin/jobs/bulk/delete": () => ({ job_ids: [sampleParams.id], confirm: true }),
  "POST /ojs/v1/jobs/bulk/retry": () => ({ job_ids: [sampleParams.id], confirm: true }),
  "POST /ojs/v1/jobs/bulk/cancel": () => ({ job_ids: [sampleParams.id], confirm: true }),
  "POST /ojs/v1/admin/system/maintenance": () => ({ enabled: false }),
  "POST /ojs/v1/admin/maintenance": () => ({ enabled: false }),
  "POST /ojs/v1/admin/workers/directive": () => ({ directive: "resume" }),
  "POST /api/v1/jobs": () => ({ op: "test.echo", target: "fuzz-host" }),
  "PUT /api/v1/workers/{host}/labels": () => ({ labels: { role: "web" } }),
  "PUT /api/v1/queues/{name}/config": () => ({ exclusive_key_template: "k:{args.0}" }),
  "PUT /ojs/v1/admin/queues/{name}/config": () => ({ backpressure: { max_depth: 5, strategy: "reject" } }),
  // A fresh name each time: a valid wait_ms must never wait for a lock an earlier run holds.
  "POST /api/v1/locks": () => ({ name: `fuzz-lock-${++lockNo}` }),
  // Enrollment on a server without NATS identities: refused with 422 unsupported once the body is valid.
  "POST /api/v1/agent-identities/{host}/accept": () => ({ queues: ["fuzz-q"] }),
  "POST /api/v1/agent-enroll-tokens": () => ({ expires_in_ms: 60_000 }),
  "POST /api/v1/locks/{name}/renew": () => ({ token: "not-the-token" }),
  "POST /api/v1/locks/{name}/release": () => ({ token: "not-the-token" }),
};

/** The object schema under optional/nullable/default wrappers, if any. */
function objectShape(s: z.ZodType): Record<string, z.ZodType> | undefined {
  let cur: z.ZodType | undefined = s;
  for (let i = 0; cur && i < 4; i++) {
    if (cur instanceof z.ZodObject) return cur.shape;
    cur = (cur.def as { innerType?: z.ZodType }).innerType;
  }
  return undefined;
}

/** Every field path of a schema down to `depth` nested objects, with the field's own schema. */
function fieldPaths(s: z.ZodType, depth: number, prefix: string[] = []): Array<[string[], z.ZodType]> {
  const shape = objectShape(s);
  if (!shape) return [];
  const out: Array<[string[], z.ZodType]> = [];
  for (const [k, v] of Object.entries(shape)) {
    const accepts = [null, 1, "x", true, [], {}].filter((x) => v.safeParse(x).success).length;
    if (accepts < 6) out.push([[...prefix, k], v]); // a field that takes anything cannot be wrong
    if (depth > 0) out.push(...fieldPaths(v, depth - 1, [...prefix, k]));
  }
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
  return obj;
}

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Strings that break parsers, subjects, KV keys, dates and paths. */
const hostileString = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "..",
  "../..",
  ">",
  "*",
  "a b",
  "a.b.",
  "%00",
  "😀",
  "x".repeat(5000),
  "+P99999999999999W",
  "P99999999999999W",
  "PT99999999999999999999H",
  "9999-12-31T23:59:59Z",
  "0000-01-01T00:00:00Z",
  "2026-02-30T00:00:00Z",
  "1e999",
  "NaN",
  "__proto__",
  "constructor",
);
const hostileNumber = fc.constantFrom(-1, 0, 0.5, -0.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308, 1e-300);
const anyValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 10 }),
  hostileString,
  fc.integer(),
  hostileNumber,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
const notAnObject = fc.oneof(
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const paramValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ minLength: 450, maxLength: 600 }),
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/),
  fc.uuid(),
  fc.constantFrom(
    "..",
    ".",
    "../..",
    "%00",
    "a%00b",
    "%",
    "%zz",
    "%E0%A4%A",
    "%FF",
    "%C0%AF",
    "%2e%2e",
    "%2F",
    "%2F..%2F",
    "\u0000",
    "😀",
    "ß",
    "*",
    ">",
    "a b",
    "a.b",
    "a..b",
    "_",
    "-",
    "x".repeat(500),
    "null",
    "a/b",
    "?x=1",
    "#frag",
    "wf.x",
    "j.>",
  ),
);

describe("HTTP fuzz: bad input is refused with 4xx, never a 5xx or a hang", () => {
  let t: TestApp;
  let routes: RouteDef[];
  /** Routes by `METHOD path`: arbitraries pick keys, so counterexamples print short. */
  const byKey = new Map<string, RouteDef>();
  const pick = (rs: RouteDef[]) => fc.constantFrom(...rs.map(key));
  const route = (k: string) => byKey.get(k)!;

  before(async () => {
    t = await startTestApp(h.nats, { maxBodyBytes: MAX_BODY });
    routes = t.app.routes;
    for (const r of routes) byKey.set(key(r), r);
  });
  after(async () => {
    console.log(
      `fuzz: ${tally.requests} requests, ${tally.serverErrors} server errors (seed ${seed}` +
        `${tally.unsendable > 0 ? `, ${tally.unsendable} inputs not expressible as a URL` : ""})`,
    );
    await t.close();
  });

  /** One request, bounded in time; SSE bodies are cancelled once the stream has started. */
  async function send(
    method: string,
    path: string,
    o: { body?: string; token?: string | null; type?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply | undefined> {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? testTokens.admin : o.token;
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    if (o.body !== undefined) headers["Content-Type"] ??= o.type ?? "application/json";
    const ac = new AbortController();
    let req: Request;
    try {
      req = new Request(`http://localhost${path}`, {
        method,
        headers,
        signal: ac.signal,
        ...(o.body === undefined ? {} : { body: o.body }),
      });
    } catch {
      tally.unsendable++; // the client cannot even build this URL
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms: ${method} ${path.slice(0, 200)}`));
      }, REQUEST_TIMEOUT_MS);
    });
    try {
      const res = await Promise.race([Promise.resolve(t.app.hono.request(req)), deadline]);
      tally.requests++;
      if (res.status >= 500) tally.serverErrors++;
      if ((res.headers.get("Content-Type") ?? "").startsWith("text/event-stream")) {
        await res.body?.cancel();
        return { status: res.status, json: undefined, stream: true };
      }
      const text = await Promise.race([res.text(), deadline]);
      return { status: res.status, json: isJson(text) ? JSON.parse(text) : text, stream: false };
    } finally {
      clearTimeout(timer);
    }
  }

  /** No 5xx; a refusal has the error envelope with a documented code. */
  function noServerError(res: Reply | undefined, what: string): void {
    if (!res) return;
    assert.ok(res.status < 500, `${what} → ${res.status} ${JSON.stringify(res.json)?.slice(0, 300)}`);
    if (res.status >= 400) {
      const code = (res.json as { error?: { code?: unknown } } | undefined)?.error?.code;
      assert.ok(typeof code === "string" && errorCodes.has(code), `${what}: error code ${String(code)}`);
    }
  }

  function refused(res: Reply | undefined, what: string, code?: string): void {
    if (!res) return;
    noServerError(res, what);
    assert.ok(res.status >= 400 && res.status < 500, `${what} → ${res.status}, expected a 4xx`);
    if (code !== undefined) {
      assert.equal((res.json as { error: { code: string } }).error.code, code, what);
    }
  }

  /** A parameter value that names something that can exist: answered, not refused (a key without jobs). */
  const mayExist = (r: RouteDef, value: string) =>
    (r.path.includes("/queues/{name}") && queueNameSchema.safeParse(value).success) ||
    (r.path.includes("/rate-limits/{key}") && rateLimitKeySchema.safeParse(value).success) ||
    // A job type's schema versions: an empty list for a type without any (ojs-schema-registry §4.3).
    (r.path.endsWith("/{type}/versions") && jobTypeSchema.safeParse(value).success) ||
    // OJS worker ids are free strings (1–200): earlier requests here may have registered any of them.
    (/^\/ojs\/v1\/(?:admin\/)?workers\/\{id\}/.test(r.path) && value.length > 0 && value.length <= 200);

  const bodyRoutes = () => routes.filter((r) => r.body !== undefined || r.parseBody !== undefined);

  it("refuses malformed and truncated JSON with 400 invalid_payload", async () => {
    const truncated = fc
      .tuple(
        fc.oneof(
          fc.constantFrom(...Object.values(baseBodies)).map((b) => b()),
          fc.jsonValue({ maxDepth: 3 }),
        ),
        fc.nat(),
      )
      .map(([v, n]) => {
        const s = JSON.stringify(v);
        return s.slice(0, 1 + (n % Math.max(1, s.length - 1)));
      });
    const malformed = fc
      .oneof(
        fc.constantFrom(
          "{",
          "}",
          "[",
          '{"a":',
          "{'a':1}",
          "{a:1}",
          "nul",
          "tru",
          "undefined",
          "NaN",
          '{"a":1,}',
          "[1,]",
          '"abc',
          "\u0000",
          '{"a":1}}',
          "0x10",
          "01",
          ".5",
          '{"a" 1}',
        ),
        truncated,
        fc.string({ minLength: 1, maxLength: 50 }),
      )
      // A leading byte-order mark is dropped when the body is decoded, so "\uFEFF{}" is JSON there.
      .filter((s) => s.trim() !== "" && !isJson(s.replace(/^\uFEFF/, "")));
    await fc.assert(
      fc.asyncProperty(pick(bodyRoutes()), malformed, async (rk, text) => {
        const r = route(rk);
        const res = await send(r.method, fillPath(r.path), { body: text });
        refused(res, `${key(r)} body ${JSON.stringify(text).slice(0, 80)}`, ErrorCode.InvalidPayload);
      }),
      runs(400),
    );
    // Empty bodies where one is required, and bodies that are not JSON at all.
    for (const r of bodyRoutes().filter((x) => x.bodyOptional !== true)) {
      refused(await send(r.method, fillPath(r.path), { body: " " }), `${key(r)} empty`, "invalid_payload");
      refused(
        await send(r.method, fillPath(r.path), { body: '{"a":1}', type: "text/plain" }),
        `${key(r)} text/plain`,
        ErrorCode.InvalidPayload,
      );
    }
  });

  it("refuses wrong types for every known body field", async () => {
    const targets = new Map<string, { route: RouteDef; schema: z.ZodType; path: string[] }>();
    for (const r of routes) {
      const schema = r.body ?? r.docBody;
      if (!schema) continue;
      assert.ok(baseBodies[key(r)], `a base body for ${key(r)}`);
      assert.ok(schema.safeParse(baseBodies[key(r)]!()).success, `the base body of ${key(r)} is valid`);
      for (const [path] of fieldPaths(schema, 2)) {
        targets.set(`${key(r)} ${path.join(".")}`, { route: r, schema, path });
      }
    }
    assert.ok(targets.size >= 60, `fields found: ${targets.size}`);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets.keys()), anyValue, async (target, value) => {
        const f = targets.get(target)!;
        const body = setPath(baseBodies[key(f.route)]!(), f.path, value);
        const what = `${key(f.route)} ${f.path.join(".")}=${JSON.stringify(value)?.slice(0, 80)}`;
        const res = await send(f.route.method, fillPath(f.route.path), { body: JSON.stringify(body) });
        if (f.schema.safeParse(body).success) noServerError(res, what);
        else refused(res, what);
      }),
      runs(1200),
    );
  });

  it("refuses arrays, strings, numbers and null as bodies", async () => {
    await fc.assert(
      fc.asyncProperty(pick(bodyRoutes()), notAnObject, async (rk, value) => {
        const r = route(rk);
        const what = `${key(r)} body ${JSON.stringify(value).slice(0, 80)}`;
        const res = await send(r.method, fillPath(r.path), { body: JSON.stringify(value) });
        // Routes that take any optional body (pause, drain, retry…) ignore it.
        if (r.body !== undefined || r.docBody !== undefined || r.bodyOptional !== true) refused(res, what);
        else noServerError(res, what);
      }),
      runs(300),
    );
  });

  it("refuses bodies over the limit with 413 payload_too_large", async () => {
    const withBody = routes.filter((r) => r.method !== "GET");
    await fc.assert(
      fc.asyncProperty(
        pick(withBody),
        fc.integer({ min: MAX_BODY + 1, max: 4 * MAX_BODY }),
        fc.boolean(),
        async (rk, size, json) => {
          const r = route(rk);
          const pad = "x".repeat(size);
          const body = json ? JSON.stringify({ type: "fuzz.big", args: [pad] }) : pad;
          const res = await send(r.method, fillPath(r.path), { body });
          // OJS routes send jetjob's own codes with the x_ prefix (http-binding §16.3).
          const code = r.path.startsWith("/ojs/")
            ? `x_${ErrorCode.PayloadTooLarge}`
            : ErrorCode.PayloadTooLarge;
          refused(res, `${key(r)} ${size} bytes`, code);
        },
      ),
      runs(60),
    );
  });

  it("refuses bad ids and names in path parameters", async () => {
    const withParams = routes.filter((r) => r.path.includes("{"));
    // Regressions first, whatever the seed: values that are not KV keys or subject tokens (500s once).
    const known = ["%", "%zz", "%00", "%C0%AF", "%E0%A4%A", " ", "a.", "a..b", "0..-", ">", "*", "a b"];
    for (const r of withParams) {
      for (const v of known) {
        const path = r.path.replace(/\{(\w+)\}/g, v === " " ? "%20" : v);
        const base = baseBodies[key(r)];
        const res = await send(r.method, path, base ? { body: JSON.stringify(base()) } : {});
        if (mayExist(r, v)) noServerError(res, `${r.method} ${path}`);
        else refused(res, `${r.method} ${path}`);
      }
    }
    await fc.assert(
      fc.asyncProperty(pick(withParams), paramValue, fc.boolean(), async (rk, value, encode) => {
        const r = route(rk);
        let enc: string | undefined;
        try {
          enc = encode ? encodeURIComponent(value) : undefined;
        } catch {
          enc = undefined; // lone surrogates: send them raw
        }
        const path = r.path.replace(/\{(\w+)\}/g, () => enc ?? value);
        const base = baseBodies[key(r)];
        const res = await send(r.method, path, base ? { body: JSON.stringify(base()) } : {});
        const what = `${r.method} ${path.slice(0, 120)}`;
        // Only an encoded value surely reaches the route: a raw one may route elsewhere (`?`, `/`),
        // and `.`/`..` are dot segments the URL resolves even when encoded.
        const reachesRoute = enc !== undefined && !/^(?:\.|%2e){1,2}$/i.test(enc);
        if (reachesRoute && !mayExist(r, value)) refused(res, what);
        else noServerError(res, what);
      }),
      runs(900),
    );
  });

  it("refuses bad fleet targets", async () => {
    const words = fc.constantFrom(
      "(",
      ")",
      "and",
      "or",
      "not",
      "G@",
      "E@[",
      "E@",
      "E@(a+)+$",
      "L@",
      "L@,",
      "G@x>=",
      "G@os.name=",
      "G@cpu.cores>=abc",
      "host:",
      ":any",
      "web-*",
      "*",
      "[",
      "[!",
      "any",
      "all",
      "group:web",
      "group:web:any",
      ",",
      "!",
      "?",
      "\u0000",
    );
    const grammarish = fc
      .array(words, { minLength: 1, maxLength: 8 })
      .chain((ws) => fc.constantFrom(ws.join(" "), ws.join("")));
    const target = fc.oneof(
      grammarish,
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom("(((", "G@", "E@[", "(".repeat(1000), "not ".repeat(250) + "x", "a".repeat(1025)),
    );
    await fc.assert(
      fc.asyncProperty(target, async (tgt) => {
        const what = `target ${JSON.stringify(tgt).slice(0, 80)}`;
        // No agent is online here: a target that parses selects nobody (422 no_targets).
        refused(
          await send("POST", "/api/v1/jobs", { body: JSON.stringify({ op: "test.echo", target: tgt }) }),
          what,
        );
        let q: string | undefined;
        try {
          q = encodeURIComponent(tgt);
        } catch {
          q = undefined;
        }
        if (q !== undefined) noServerError(await send("GET", `/api/v1/targets/resolve?target=${q}`), what);
      }),
      runs(300),
    );
  });

  it("refuses bad cron expressions", async () => {
    const field = fc.constantFrom(
      "*",
      "*/0",
      "*/x",
      "-1",
      "60",
      "99",
      "1-",
      "1,,2",
      "L",
      "W",
      "#",
      "?",
      "0-59/61",
      "5",
      "1-3",
      "JAN",
      "MON-FRI",
      "*/15",
      "31",
      "30",
      "2",
      "0",
    );
    const expression = fc.oneof(
      fc.array(field, { minLength: 1, maxLength: 7 }).map((fs) => fs.join(" ")),
      fc.string({ maxLength: 30 }),
      fc.constantFrom("@reboot", "@daily", "@every 5m", "", "0 0 30 2 *", "* * * * * * *"),
    );
    await fc.assert(
      fc.asyncProperty(
        expression,
        fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("UTC", "Mars/Base", "Etc/GMT+99"))),
        fc.option(fc.oneof(anyValue, fc.constantFrom("fuzz-cron", "bad name", "x".repeat(200)))),
        async (expr, timezone, name) => {
          const body: Record<string, unknown> = {
            name: name ?? "fuzz-cron",
            expression: expr,
            job_template: { type: "fuzz.cron", args: [], options: { queue: "fuzz-cron" } },
          };
          if (timezone !== null) body.timezone = timezone;
          const res = await send("POST", "/ojs/v1/cron", { body: JSON.stringify(body) });
          noServerError(res, `cron ${JSON.stringify(body).slice(0, 160)}`);
          if (res?.status === 201)
            await send("DELETE", `/ojs/v1/cron/${encodeURIComponent(String(body.name))}`);
        },
      ),
      runs(300),
    );
    for (const expr of ["", "* * *", "*/0 * * * *", "61 * * * *", "0 0 30 2 *", "@reboot", "* * * * * * *"]) {
      const body = { name: "fuzz-cron", expression: expr, job_template: { type: "fuzz.cron", args: [] } };
      refused(await send("POST", "/ojs/v1/cron", { body: JSON.stringify(body) }), `cron '${expr}'`);
    }
  });

  it("refuses invalid queue names everywhere and unknown queues where they must exist", async () => {
    let unknown = 0;
    const queue = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/).map((s) => `unknown-${s}`),
      fc.constantFrom(">", "*", "a b", "A", "_x", "-x", ".x", "x".repeat(129), "😀", "%00"),
    );
    const listHasInvalid = (list: string) =>
      list
        .split(",")
        .map((x) => x.trim())
        .some((x) => x !== "" && !queueNameSchema.safeParse(x).success);
    await fc.assert(
      fc.asyncProperty(queue, async (raw) => {
        // A valid name gets a suffix of its own: this property creates the queues it enqueues to.
        const valid = queueNameSchema.safeParse(raw).success;
        const q = valid ? `${raw}.u${++unknown}` : raw;
        const e = encodeURIComponent(q);
        const checks: Array<[string, Reply | undefined, boolean]> = [
          [`stats ${q}`, await send("GET", `/ojs/v1/queues/${e}/stats`), true],
          [`events ${q}`, await send("GET", `/ojs/v1/queues/${e}/events`), !valid],
          [
            `config ${q}`,
            await send("PUT", `/api/v1/queues/${e}/config`, { body: '{"exclusive_key_template":null}' }),
            !valid,
          ],
          [
            `enqueue ${q}`,
            await send("POST", "/ojs/v1/jobs", {
              body: JSON.stringify({ type: "fuzz.q", args: [], options: { queue: q } }),
            }),
            !valid,
          ],
          [
            `fetch ${q}`,
            await send("POST", "/ojs/v1/workers/fetch", { body: JSON.stringify({ queues: [q] }) }),
            !valid,
          ],
          [`list ${q}`, await send("GET", `/api/v1/jobs?queue=${e}`), !valid],
          // An empty filter is no filter; the recent-events filter is a trimmed comma-separated list.
          [`dead letters ${q}`, await send("GET", `/ojs/v1/dead-letter?queue=${e}`), !valid && q !== ""],
          [`recent events ${q}`, await send("GET", `/ojs/v1/events?queues=${e}`), listHasInvalid(q)],
          [`keys ${q}`, await send("GET", `/api/v1/exclusive-keys?queue=${e}`), !valid],
        ];
        for (const [what, res, must] of checks) {
          if (must) refused(res, what);
          else noServerError(res, what);
        }
      }),
      runs(120),
    );
  });

  it("never stores a job that later breaks reads: extreme times and durations", async () => {
    const durations = ["PT0S", "PT0.0001S", "PT1S", "P36500D", "P36600D", "P99999999999999W"];
    const times = ["+PT1S", "+P36500D", "+P99999999999999W", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"];
    const ms = [0, 1, 2 ** 31, 3_153_600_000_000, 3_153_600_000_001, 2 ** 53 - 1];
    /** One extreme option each: [path under options, value]. */
    const extremes: Array<[string[], unknown]> = [
      ...["scheduled_at", "expires_at"].flatMap((f) => times.map((v): [string[], unknown] => [[f], v])),
      ...["timeout_ms", "visibility_timeout_ms"].flatMap((f) => ms.map((v): [string[], unknown] => [[f], v])),
      ...durations.map((v): [string[], unknown] => [["visibility_timeout"], v]),
      ...durations.map((v): [string[], unknown] => [["unique", "period"], v]),
      ...["initial_interval", "max_interval"].flatMap((f) =>
        durations.map((v): [string[], unknown] => [["retry", f], v]),
      ),
      ...["initial_interval_ms", "max_interval_ms"].flatMap((f) =>
        ms.map((v): [string[], unknown] => [["retry", f], v]),
      ),
      ...[1, 2.5, 100].map((v): [string[], unknown] => [["retry", "backoff_coefficient"], v]),
      ...["linear", "constant"].map((v): [string[], unknown] => [["retry", "backoff_strategy"], v]),
      [["retry", "jitter"], true],
      ...[1e-300, 1e-9, 1e300].map((v): [string[], unknown] => [["rate_limit", "max_per_second"], v]),
    ];
    let n = 0;
    /** Enqueue, get, fetch, heartbeat, nack (a retry), get, list and stats: none may answer 5xx. */
    const lifecycle = async (chosen: Array<[string[], unknown]>) => {
      const queue = `fuzz-times-${++n}`;
      // No jitter unless chosen: a delay is then exactly what the policy says (deterministic).
      const options: Record<string, unknown> = { queue, retry: { max_attempts: 3, jitter: false } };
      for (const [path, value] of chosen) setPath(options, path, value);
      const body = JSON.stringify({ type: "fuzz.times", args: [], options });
      const what = `enqueue ${body}`;
      const created = await send("POST", "/ojs/v1/jobs", { body });
      noServerError(created, what);
      if (created?.status !== 201) return;
      const id = (created.json as { job: { id: string } }).job.id;
      noServerError(await send("GET", `/ojs/v1/jobs/${id}`), `${what}, then get`);
      const fetched = await send("POST", "/ojs/v1/workers/fetch", {
        body: JSON.stringify({ queues: [queue] }),
      });
      noServerError(fetched, `${what}, then fetch`);
      if (((fetched?.json as { jobs?: unknown[] }).jobs ?? []).length > 0) {
        const hb = JSON.stringify({ job_id: id, visibility_timeout_ms: 60_000 });
        noServerError(await send("POST", "/ojs/v1/workers/heartbeat", { body: hb }), `${what}, heartbeat`);
        const nack = JSON.stringify({ job_id: id, error: { message: "fuzz" } });
        noServerError(await send("POST", "/ojs/v1/workers/nack", { body: nack }), `${what}, then nack`);
      }
      noServerError(await send("GET", `/ojs/v1/jobs/${id}`), `${what}, then get again`);
      noServerError(await send("GET", `/api/v1/jobs?queue=${queue}`), `${what}, then list`);
      noServerError(await send("GET", `/ojs/v1/queues/${queue}/stats`), `${what}, then stats`);
    };
    // Each extreme value alone (regressions: a 100-year+ retry delay or `+P…W` time once broke the job).
    for (const e of extremes) await lifecycle([e]);
    // And a few together.
    await fc.assert(
      fc.asyncProperty(fc.subarray(extremes, { minLength: 2, maxLength: 4 }), lifecycle),
      runs(40),
    );
  });

  it("ignores hostile trace and request-id headers", async () => {
    const header = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ minLength: 1000, maxLength: 9000 }),
      fc.constantFrom(
        "00-00000000000000000000000000000000-0000000000000000-00",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "",
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        header,
        header,
        header,
        fc.boolean(),
        async (traceparent, tracestate, requestId, fleet) => {
          const headers = { traceparent, tracestate, "X-Request-Id": requestId };
          const body = fleet
            ? JSON.stringify({ op: "test.echo", target: "fuzz-host" })
            : JSON.stringify({ type: "fuzz.trace", args: [], options: { queue: "fuzz-trace" } });
          const res = await send("POST", fleet ? "/api/v1/jobs" : "/ojs/v1/jobs", { body, headers });
          noServerError(res, `headers ${JSON.stringify(headers).slice(0, 200)}`);
        },
      ),
      runs(150),
    );
  });

  it("survives random query strings on every GET route", async () => {
    const gets = routes.filter((r) => r.method === "GET");
    await fc.assert(
      fc.asyncProperty(
        pick(gets),
        fc.dictionary(
          fc.oneof(
            fc.constantFrom("limit", "offset", "cursor", "queue", "queues", "types", "state", "status"),
            fc.constantFrom("op", "host", "label", "offline", "target", "job_id", "access_token"),
            fc.string({ maxLength: 8 }),
          ),
          fc.oneof(fc.string({ maxLength: 30 }), hostileString, hostileNumber.map(String)),
          { maxKeys: 4 },
        ),
        async (rk, query) => {
          const r = route(rk);
          const qs = new URLSearchParams(query).toString();
          const path = `${fillPath(r.path)}?${qs}`;
          noServerError(await send("GET", path), `GET ${path.slice(0, 160)}`);
        },
      ),
      runs(500),
    );
  });

  it("still serves normally afterwards", async () => {
    const health = await send("GET", "/health", { token: null });
    assert.equal(health?.status, 200);
    const created = await send("POST", "/ojs/v1/jobs", {
      body: JSON.stringify({ type: "fuzz.after", args: [1], options: { queue: "fuzz-after" } }),
    });
    assert.equal(created?.status, 201, JSON.stringify(created?.json));
    const id = (created?.json as { job: { id: string } }).job.id;
    const got = await send("GET", `/ojs/v1/jobs/${id}`, { token: testTokens.read });
    assert.equal((got?.json as { job: { state: string } }).job.state, "available");
    assert.equal(tally.serverErrors, 0, "no request got a 5xx");
  });
});
