/**
 * Starting a server process that never outlives us: it runs under a small shell guard that stops it
 * (with `signal`) when this Node process is gone, even after a kill -9, or when the guard is told to
 * stop. Used for nats-server here and for redis-server by the benchmark.
 */
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { spawn } from "node:child_process";

const guardScript = (signal: "INT" | "TERM") => `
"$0" "$@" &
child=$!
trap 'kill -${signal} $child 2>/dev/null; wait $child; exit $?' INT TERM
while kill -0 "$GUARD_PARENT_PID" 2>/dev/null && kill -0 $child 2>/dev/null; do
  sleep 1 & wait $!
done
kill -${signal} $child 2>/dev/null
wait $child
`;

/** Spawns `bin args` under the guard; `signal` is what the server gets to stop. */
export function spawnGuarded(
  bin: string,
  args: string[],
  signal: "INT" | "TERM",
  options: SpawnOptions = {},
): ChildProcess {
  return spawn("sh", ["-c", guardScript(signal), bin, ...args], {
    ...options,
    env: { ...(options.env ?? process.env), GUARD_PARENT_PID: String(process.pid) },
  });
}
