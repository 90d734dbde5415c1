import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

import { applyTraceContext, parseEnqueueRequest } from "../../src/core/envelope.js";
import {
  activeTraceContext,
  formatTraceparent,
  normalizeTraceparent,
  normalizeTracestate,
  parseTraceparent,
  runInTraceContext,
  traceContextOf,
  traceIdOf,
} from "../../src/core/tracing.js";
import { toEventView } from "../../src/store/jobs/events.js";
import { installTestTracing } from "../harness/otel.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const TP = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe("traceparent parsing and formatting", () => {
  it("parses a valid traceparent into a remote span context", () => {
    assert.deepEqual(parseTraceparent(TP), {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
      isRemote: true,
    });
    assert.equal(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags, 0);
    assert.equal(parseTraceparent(` ${TP} `)?.traceId, TRACE_ID, "header whitespace is trimmed");
  });

  it("formats a span context and round-trips", () => {
    assert.equal(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }), TP);
    assert.equal(formatTraceparent(parseTraceparent(TP)!), TP);
    assert.equal(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 }).slice(-3), "-00");
  });

  it("rejects invalid values", () => {
    const invalid: unknown[] = [
      undefined,
      null,
      42,
      {},
      "",
      "garbage",
      `00-${TRACE_ID}-${SPAN_ID}`, // no flags
      `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`, // short trace id
      `00-${TRACE_ID}-${SPAN_ID}0-01`, // long span id
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`, // W3C: lowercase hex only
      `00-${"0".repeat(32)}-${SPAN_ID}-01`, // all-zero trace id
      `00-${TRACE_ID}-${"0".repeat(16)}-01`, // all-zero span id
      `ff-${TRACE_ID}-${SPAN_ID}-01`, // forbidden version
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`, // version 00 has exactly four fields
      `00-${TRACE_ID}-${SPAN_ID}-0g`,
      `00_${TRACE_ID}_${SPAN_ID}_01`,
    ];
    for (const v of invalid) {
      assert.equal(parseTraceparent(v), undefined, `accepted ${JSON.stringify(v)}`);
      assert.equal(normalizeTraceparent(v), undefined);
    }
  });

  it("accepts a later version's extra fields and keeps the version-00 part", () => {
    assert.equal(normalizeTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-more`), TP);
  });

  it("normalizes tracestate and builds trace contexts", () => {
    assert.equal(
      normalizeTracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
      "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    );
    assert.equal(normalizeTracestate("  "), undefined);
    assert.equal(normalizeTracestate("a=\u00e9"), undefined);
    assert.equal(normalizeTracestate("x".repeat(513)), undefined);
    assert.equal(normalizeTracestate(7), undefined);
    assert.deepEqual(traceContextOf(TP, "a=b"), { traceparent: TP, tracestate: "a=b" });
    assert.deepEqual(traceContextOf(TP), { traceparent: TP });
    assert.equal(traceContextOf("bad", "a=b"), undefined, "no tracestate without a valid traceparent");
    assert.equal(traceIdOf(TP), TRACE_ID);
  });
});

describe("trace context on jobs", () => {
  it("takes traceparent and tracestate from the request body, as dedicated fields", () => {
    const n = parseEnqueueRequest({
      type: "a.b",
      args: [],
      traceparent: TP,
      tracestate: "a=b",
      meta: { k: 1 },
    });
    assert.equal(n.spec.traceparent, TP);
    assert.equal(n.spec.tracestate, "a=b");
    assert.deepEqual(n.spec.meta, { k: 1 }, "meta untouched");
    assert.equal(n.spec.ext, undefined, "not echoed as unknown fields");
  });

  it("ignores an invalid traceparent instead of refusing the job", () => {
    const n = parseEnqueueRequest({ type: "a.b", args: [], traceparent: "nope", tracestate: "a=b" });
    assert.equal(n.spec.traceparent, undefined);
    assert.equal(n.spec.tracestate, undefined);
    assert.equal(parseEnqueueRequest({ type: "a.b", args: [], traceparent: 12 }).spec.traceparent, undefined);
  });

  it("applies the request's trace context unless the job brought its own", () => {
    const other = `00-${"a".repeat(32)}-${"b".repeat(16)}-00`;
    const plain = parseEnqueueRequest({ type: "a.b", args: [] });
    applyTraceContext(plain.spec, { traceparent: TP, tracestate: "a=b" });
    assert.equal(plain.spec.traceparent, TP);
    assert.equal(plain.spec.tracestate, "a=b");
    const own = parseEnqueueRequest({ type: "a.b", args: [], traceparent: other });
    applyTraceContext(own.spec, { traceparent: TP });
    assert.equal(own.spec.traceparent, other);
    const none = parseEnqueueRequest({ type: "a.b", args: [] });
    applyTraceContext(none.spec, undefined);
    assert.equal("traceparent" in none.spec, false);
  });

  it("shows the trace id on events", () => {
    const base = { t: "job.completed" as const, at: 0, id: "x", jt: "a.b", q: "default" };
    assert.equal(toEventView({ ...base, tid: TRACE_ID }).data.trace_id, TRACE_ID);
    assert.equal("trace_id" in toEventView(base).data, false);
  });
});

// The describes below run in order: first without any SDK, then with a context manager and the
// no-op tracer, then with a recording tracer.

describe("runInTraceContext without an OpenTelemetry SDK", () => {
  it("runs the function and returns its result (no context manager: no active span)", async () => {
    let active: unknown = "unset";
    const r = await runInTraceContext(TP, "job x", {}, () => {
      active = trace.getActiveSpan();
      return Promise.resolve(7);
    });
    assert.equal(r, 7);
    assert.equal(active, undefined);
    assert.equal(activeTraceContext(), undefined);
  });
});

describe("runInTraceContext with a context manager and the no-op tracer", () => {
  before(() => {
    installTestTracing({ recording: false });
  });
  after(() => {
    context.disable();
  });

  it("makes the incoming trace the active one inside the function, across awaits", async () => {
    const ids = await runInTraceContext(TP, "job x", { "jetjob.job_id": "1" }, async () => {
      const first = trace.getActiveSpan()?.spanContext().traceId;
      await new Promise((r) => setTimeout(r, 1));
      return [first, trace.getActiveSpan()?.spanContext().traceId];
    });
    assert.deepEqual(ids, [TRACE_ID, TRACE_ID]);
    assert.equal(trace.getActiveSpan(), undefined, "nothing active afterwards");
  });

  it("runs without a span for no or an invalid traceparent", async () => {
    for (const tp of [undefined, "00-zz"]) {
      const active = await runInTraceContext(tp, "job x", {}, () => Promise.resolve(trace.getActiveSpan()));
      assert.equal(active, undefined);
    }
  });
});

describe("runInTraceContext with a recording tracer", () => {
  let t: ReturnType<typeof installTestTracing>;
  before(() => {
    t = installTestTracing();
  });
  after(() => {
    context.disable();
    trace.disable();
  });

  it("starts one consumer span per run, child of the remote parent, and ends it", async () => {
    t.reset();
    const attrs = { "jetjob.job_id": "j1", "jetjob.queue": "q", "jetjob.attempt": 1 };
    const seen = await runInTraceContext(TP, "job a.b", attrs, () =>
      Promise.resolve(trace.getActiveSpan()?.spanContext()),
    );
    assert.equal(t.spans.length, 1);
    const s = t.spans[0]!;
    assert.equal(s.name, "job a.b");
    assert.equal(s.kind, SpanKind.CONSUMER);
    assert.deepEqual(s.attributes, attrs);
    assert.equal(s.parent?.traceId, TRACE_ID);
    assert.equal(s.parent?.spanId, SPAN_ID);
    assert.equal(s.parent?.isRemote, true);
    assert.equal(seen?.traceId, TRACE_ID);
    assert.equal(seen?.spanId, s.context.spanId, "the handler's active span is the new span");
    assert.equal(s.ended, true);
    assert.equal(s.status.code, SpanStatusCode.UNSET);
  });

  it("keeps tracestate on the parent", async () => {
    t.reset();
    await runInTraceContext(TP, "job x", {}, () => Promise.resolve(), { tracestate: "vendor=abc" });
    assert.equal(t.spans[0]!.parent?.traceState?.get("vendor"), "abc");
  });

  it("records a thrown error: status ERROR, exception, span ended, error rethrown", async () => {
    t.reset();
    const boom = new Error("boom");
    await assert.rejects(
      runInTraceContext(TP, "job x", {}, () => Promise.reject(boom)),
      (e) => e === boom,
    );
    const s = t.spans[0]!;
    assert.deepEqual(s.status, { code: SpanStatusCode.ERROR, message: "boom" });
    assert.deepEqual(s.exceptions, [boom]);
    assert.equal(s.ended, true);
  });

  it("records a failure reported through the outcome reader", async () => {
    t.reset();
    const r = await runInTraceContext(TP, "job x", {}, () => Promise.resolve({ ok: false, code: "nope" }), {
      outcome: (res) =>
        res.ok
          ? undefined
          : {
              attributes: { "jetjob.outcome": "failed" },
              error: { exception: { code: res.code, message: "it failed" }, message: "it failed" },
            },
    });
    assert.equal(r.ok, false);
    const s = t.spans[0]!;
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    assert.equal(s.attributes["jetjob.outcome"], "failed");
    assert.deepEqual(s.exceptions, [{ code: "nope", message: "it failed" }]);
  });

  it("creates no span without trace context", async () => {
    t.reset();
    await runInTraceContext(undefined, "job x", {}, () => Promise.resolve());
    assert.equal(t.spans.length, 0);
  });

  it("activeTraceContext gives the caller's active span as a traceparent (no propagator registered)", () => {
    assert.equal(activeTraceContext(), undefined);
    const tracer = trace.getTracer("test");
    const inside = tracer.startActiveSpan("caller", (span) => {
      const tc = activeTraceContext();
      span.end();
      return { tc, sc: span.spanContext() };
    });
    assert.equal(inside.tc?.traceparent, formatTraceparent(inside.sc));
  });
});
