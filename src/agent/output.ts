/**
 * Output of a running fleet job as timeline events: lines a command writes to stdout/stderr (and lines
 * or progress a user handler reports) are stored while the job runs, so `jetjob job watch`, the live
 * table of `job run`, the SSE stream and the dashboard show them before the job ends.
 *
 * Lines are batched (one `output` event per {@link outputLimits.flushMs}, or sooner when a batch is
 * full) and bounded per job and host: at most {@link outputLimits.maxLines} lines and
 * {@link outputLimits.maxBytes} bytes are stored, each line cut to {@link outputLimits.maxLineChars};
 * what is dropped beyond that is counted on the last event (`dropped_lines`). The whole output of a
 * command stays in its result (bounded by the agent's own output cap).
 */

export type OutputStreamName = "stdout" | "stderr";

export const outputLimits = {
  flushMs: 200,
  maxBatchLines: 100,
  maxLines: 2000,
  maxBytes: 256 * 1024,
  maxLineChars: 2000,
  /** Progress events stored per job and host at most (the last one is always kept). */
  maxProgress: 200,
} as const;

/** What an output event carries (`d` of the `output` timeline event). */
export interface OutputEventData {
  stream: OutputStreamName;
  lines: string[];
  /** Lines not stored because the job's output reached its bounds (set once, on the last batch). */
  dropped_lines?: number;
}

export interface JobOutput {
  /** Raw bytes from a process's stream; split into lines here. */
  write(stream: OutputStreamName, chunk: Buffer | string): void;
  /** One whole line from a handler. */
  line(stream: OutputStreamName, text: string): void;
  /** A handler's progress (any JSON value); stored as a `progress` event, newest wins in views. */
  progress(data: unknown): void;
  /** Stores what is buffered (partial lines too) and waits for every event to be stored. */
  close(): Promise<void>;
}

type Append = (event: "output" | "progress", data: Record<string, unknown>) => Promise<unknown>;

export function createJobOutput(append: Append, onError: (err: unknown) => void): JobOutput {
  const partial: Record<OutputStreamName, string> = { stdout: "", stderr: "" };
  let batch: { stream: OutputStreamName; lines: string[] } | undefined;
  let storedLines = 0;
  let storedBytes = 0;
  let dropped = 0;
  let progressCount = 0;
  let pendingProgress: unknown;
  let hasPendingProgress = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  const enqueue = (event: "output" | "progress", data: Record<string, unknown>) => {
    // One after the other, so the timeline keeps the order the lines were written in.
    chain = chain.then(() => append(event, data)).catch(onError);
  };

  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (batch && batch.lines.length > 0) {
      const d: OutputEventData = { stream: batch.stream, lines: batch.lines };
      enqueue("output", d as unknown as Record<string, unknown>);
    }
    batch = undefined;
    if (hasPendingProgress) {
      hasPendingProgress = false;
      enqueue("progress", { progress: pendingProgress });
    }
  };

  const schedule = () => {
    if (timer === undefined && !closed) timer = setTimeout(flush, outputLimits.flushMs);
  };

  const addLine = (stream: OutputStreamName, raw: string) => {
    const text = raw.length > outputLimits.maxLineChars ? raw.slice(0, outputLimits.maxLineChars) + "…" : raw;
    const bytes = Buffer.byteLength(text);
    if (storedLines >= outputLimits.maxLines || storedBytes + bytes > outputLimits.maxBytes) {
      dropped++;
      return;
    }
    storedLines++;
    storedBytes += bytes;
    if (batch && batch.stream !== stream) flush();
    batch ??= { stream, lines: [] };
    batch.lines.push(text);
    if (batch.lines.length >= outputLimits.maxBatchLines) flush();
    else schedule();
  };

  return {
    write(stream, chunk) {
      if (closed) return;
      const text = partial[stream] + (typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      const parts = text.split("\n");
      partial[stream] = parts.pop() ?? "";
      // A line that never ends is cut rather than held without bound.
      if (partial[stream].length > outputLimits.maxLineChars) {
        parts.push(partial[stream]);
        partial[stream] = "";
      }
      for (const p of parts) addLine(stream, p.endsWith("\r") ? p.slice(0, -1) : p);
    },
    line(stream, text) {
      if (closed) return;
      for (const l of String(text).split("\n")) addLine(stream, l);
    },
    progress(data) {
      if (closed) return;
      pendingProgress = data;
      if (!hasPendingProgress && progressCount >= outputLimits.maxProgress) {
        hasPendingProgress = true; // kept for the final flush only
        return;
      }
      if (!hasPendingProgress) progressCount++;
      hasPendingProgress = true;
      schedule();
    },
    async close() {
      if (closed) return chain.then(() => undefined);
      for (const s of ["stdout", "stderr"] as const) {
        if (partial[s] !== "") addLine(s, partial[s]);
        partial[s] = "";
      }
      closed = true;
      flush();
      if (dropped > 0) {
        const d: OutputEventData = { stream: "stderr", lines: [], dropped_lines: dropped };
        enqueue("output", d as unknown as Record<string, unknown>);
      }
      await chain;
    },
  };
}
