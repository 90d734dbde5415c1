/**
 * W3C trace context on jobs. A job enqueued with a `traceparent` keeps it, and the handler that runs
 * the job runs inside an OpenTelemetry span that continues that trace, so one trace shows the request
 * that created a job and the work it caused on a worker or agent.
 *
 * Only `@opentelemetry/api` is used: without an SDK registered by the application, the tracer, the
 * propagator and the context manager are no-ops and this costs next to nothing. Jobs without trace
 * context never create a span (the worker's hot path stays as it is).
 */
import type { Attributes, Exception, SpanContext } from "@opentelemetry/api";
import {
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

/** The tracer name jetjob's spans are created with. */
export const TRACER_NAME = "jetjob";

/** A job's trace context in its W3C text form (as in the `traceparent` and `tracestate` headers). */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** How an attempt ended, as far as its span is concerned. */
export interface SpanOutcome {
  /** Set on the span before it ends (e.g. `jetjob.outcome`). */
  attributes?: Attributes;
  /** The attempt failed: the span gets status ERROR with `message` and records `exception`. */
  error?: { exception: unknown; message: string };
}

export interface RunInTraceOptions<T> {
  /** The job's `tracestate`, kept on the parent span context. */
  tracestate?: string | undefined;
  /** @defaultValue SpanKind.CONSUMER */
  kind?: SpanKind;
  /** Reads the outcome from a result that encodes failure instead of throwing (the worker's). */
  outcome?: (result: T) => SpanOutcome | undefined;
}

// version "00": exactly 55 characters. Later versions may append fields after a dash (W3C §3.3).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);
/** W3C allows 32 list members of at most 256 characters; 512 characters is the size it asks vendors to keep. */
const MAX_TRACESTATE = 512;
const TRACESTATE = /^[\x20-\x7e]*$/;

/**
 * Parses a W3C `traceparent` (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`). Returns the
 * remote span context, or `undefined` for anything invalid: not a string, wrong shape, uppercase hex,
 * an all-zero trace or span id, version `ff`, or extra fields on version `00`.
 */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== "string") return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const version = m[1]!;
  const traceId = m[2]!;
  const spanId = m[3]!;
  if (version === "ff" || (version === "00" && m[5] !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, traceFlags: parseInt(m[4]!, 16), isRemote: true };
}

/** The `traceparent` (version 00) of a span context. */
export function formatTraceparent(sc: Pick<SpanContext, "traceId" | "spanId" | "traceFlags">): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** A valid `traceparent` in its canonical version-00 form, or `undefined` (invalid values are ignored). */
export function normalizeTraceparent(value: unknown): string | undefined {
  const sc = parseTraceparent(value);
  return sc === undefined ? undefined : formatTraceparent(sc);
}

/** A usable `tracestate` (printable ASCII, at most 512 characters, not blank), or `undefined`. */
export function normalizeTracestate(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.trim();
  if (v === "" || v.length > MAX_TRACESTATE || !TRACESTATE.test(v)) return undefined;
  return v;
}

/** The trace context of a request, from its `traceparent` and `tracestate` values; `undefined` when none is valid. */
export function traceContextOf(traceparent: unknown, tracestate?: unknown): TraceContext | undefined {
  const tp = normalizeTraceparent(traceparent);
  if (tp === undefined) return undefined;
  const ts = normalizeTracestate(tracestate);
  return ts === undefined ? { traceparent: tp } : { traceparent: tp, tracestate: ts };
}

/** The trace id of a `traceparent` already validated by {@link normalizeTraceparent}. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/**
 * The caller's active trace context, for a client to send with a job: what the registered propagator
 * injects, or else (no SDK propagator, but an active span) the active span context itself.
 */
export function activeTraceContext(): TraceContext | undefined {
  const active = context.active();
  const sc = trace.getSpanContext(active);
  if (sc === undefined || !isSpanContextValid(sc)) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  const injected = traceContextOf(carrier.traceparent, carrier.tracestate);
  if (injected) return injected;
  return traceContextOf(formatTraceparent(sc), sc.traceState?.serialize());
}

/**
 * Runs `fn` inside a span named `name` whose parent is the remote span in `traceparent`, with that
 * span active (so `trace.getActiveSpan()` in `fn` continues the trace). The span ends with the
 * outcome: status ERROR and the exception when `fn` throws or `options.outcome` reports a failure.
 * Without a valid `traceparent`, `fn` just runs: no span, no context.
 */
export function runInTraceContext<T>(
  traceparent: string | undefined,
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  options: RunInTraceOptions<T> = {},
): Promise<T> {
  const parent = traceparent === undefined ? undefined : parseTraceparent(traceparent);
  if (parent === undefined) return fn();
  const ts = normalizeTracestate(options.tracestate);
  if (ts !== undefined) parent.traceState = createTraceState(ts);
  const parentContext = trace.setSpanContext(ROOT_CONTEXT, parent);
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.CONSUMER, attributes },
    parentContext,
    async (span) => {
      try {
        const result = await fn();
        const o = options.outcome?.(result);
        if (o?.attributes) span.setAttributes(o.attributes);
        if (o?.error) {
          span.recordException(toException(o.error.exception));
          span.setStatus({ code: SpanStatusCode.ERROR, message: o.error.message });
        }
        return result;
      } catch (err) {
        span.recordException(toException(err));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err instanceof Error ? err.message : String(err),
        });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** What `recordException` takes: an Error as it is, an error record (`{ code, type, message }`) by its fields. */
function toException(err: unknown): Exception {
  if (err instanceof Error || typeof err === "string") return err;
  const e = (err ?? {}) as { code?: unknown; type?: unknown; message?: unknown };
  if (typeof e.message !== "string") return String(err);
  const x: Exception = { message: e.message };
  if (typeof e.code === "string" || typeof e.code === "number") x.code = e.code;
  if (typeof e.type === "string") x.name = e.type;
  return x;
}
