/**
 * Test harness: what an OpenTelemetry SDK registers, reduced to what the tests look at. An
 * AsyncLocalStorage context manager (without one, the API has no active context at all, so
 * `trace.getActiveSpan()` is always undefined) and a tracer provider that records its spans.
 * Registration is global to the test file's process.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

import type {
  Attributes,
  AttributeValue,
  Context,
  ContextManager,
  Exception,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  Tracer,
  TracerProvider,
} from "@opentelemetry/api";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";

class AsyncLocalContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const run = (...args: unknown[]): unknown =>
      this.with(ctx, () => (target as (...a: unknown[]) => unknown)(...args));
    return run as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#als.disable();
    return this;
  }
}

/** A span as recorded by {@link RecordingTracer}. */
export interface RecordedSpan {
  name: string;
  kind: SpanKind;
  attributes: Attributes;
  parent: SpanContext | undefined;
  context: SpanContext;
  status: SpanStatus;
  exceptions: Exception[];
  ended: boolean;
}

class RecordingSpan implements Span {
  constructor(readonly rec: RecordedSpan) {}
  spanContext(): SpanContext {
    return this.rec.context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.rec.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.rec.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.rec.status = status;
    return this;
  }
  updateName(name: string): this {
    this.rec.name = name;
    return this;
  }
  end(): void {
    this.rec.ended = true;
  }
  isRecording(): boolean {
    return !this.rec.ended;
  }
  recordException(exception: Exception): void {
    this.rec.exceptions.push(exception);
  }
}

class RecordingTracer implements Tracer {
  constructor(readonly spans: RecordedSpan[]) {}
  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(ctx);
    const rec: RecordedSpan = {
      name,
      kind: options.kind ?? SpanKind.INTERNAL,
      attributes: { ...options.attributes },
      parent,
      context: {
        traceId: parent?.traceId ?? randomBytes(16).toString("hex"),
        spanId: randomBytes(8).toString("hex"),
        traceFlags: TraceFlags.SAMPLED,
      },
      status: { code: SpanStatusCode.UNSET },
      exceptions: [],
      ended: false,
    };
    this.spans.push(rec);
    return new RecordingSpan(rec);
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = (rest.length >= 2 ? rest[0] : {}) as SpanOptions;
    const ctx = (rest.length >= 3 ? rest[1] : context.active()) as Context;
    const span = this.startSpan(name, options, ctx);
    const run = fn as (span: Span) => ReturnType<F>;
    return context.with(trace.setSpan(ctx, span), run, undefined, span);
  }
}

export interface TestTracing {
  /** Every span started since the last {@link TestTracing.reset}. */
  readonly spans: RecordedSpan[];
  reset(): void;
}

/** Registers the context manager, and (unless `recording: false`) the recording tracer provider. */
export function installTestTracing(o: { recording?: boolean } = {}): TestTracing {
  context.setGlobalContextManager(new AsyncLocalContextManager());
  const spans: RecordedSpan[] = [];
  if (o.recording !== false) {
    const tracer = new RecordingTracer(spans);
    const provider: TracerProvider = { getTracer: () => tracer };
    trace.setGlobalTracerProvider(provider);
  }
  return {
    spans,
    reset: () => void spans.splice(0),
  };
}
