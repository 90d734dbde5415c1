/**
 * Structured logs: one JSON object per line on stderr (or readable text on a terminal). Secrets never
 * go through here: callers log token *names*, never token values, and {@link redact} scrubs anything
 * that looks like a bearer credential from messages as a second line of defence.
 */

export const LogLevel = {
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
  Silent: "silent",
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** @defaultValue "info" (or $JETJOB_LOG_LEVEL) */
  level?: LogLevel;
  /** JSON lines (default when stderr is not a terminal) or text. */
  format?: "json" | "text";
  /** Where lines go. @defaultValue process.stderr */
  write?: (line: string) => void;
  fields?: Record<string, unknown>;
}

const bearerLike = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

/** Removes bearer credentials from a string. */
export function redact(s: string): string {
  return s.replace(bearerLike, "$1[redacted]");
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const envLevel = process.env.JETJOB_LOG_LEVEL as LogLevel | undefined;
  const level = o.level ?? (envLevel && envLevel in rank ? envLevel : LogLevel.Info);
  const format = o.format ?? (process.stderr.isTTY ? "text" : "json");
  const write = o.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const base = o.fields ?? {};

  function log(l: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (rank[l] < rank[level]) return;
    const all = { ...base, ...fields };
    if (format === "json") {
      write(redact(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...all })));
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      write(
        redact(
          `${new Date().toISOString().slice(11, 23)} ${l.toUpperCase().padEnd(5)} ${msg}${extra ? " " + extra : ""}`,
        ),
      );
    }
  }

  return {
    debug: (m, f) => log(LogLevel.Debug, m, f),
    info: (m, f) => log(LogLevel.Info, m, f),
    warn: (m, f) => log(LogLevel.Warn, m, f),
    error: (m, f) => log(LogLevel.Error, m, f),
    child: (fields) => createLogger({ ...o, level, format, write, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, libraries without a logger). */
export const silentLogger: Logger = createLogger({ level: LogLevel.Silent });
