/**
 * Graceful stop on SIGTERM and SIGINT for long-lived SDK objects (workers, agents). One pair of
 * process listeners serves every registered object, so a process running many of them (a test
 * fleet, one worker per queue) does not pile up listeners; they are removed when the last object
 * unregisters, giving the process its default signal behaviour back.
 */
const stops = new Set<() => void>();

function onSignal(): void {
  for (const stop of [...stops]) stop();
}

/**
 * Calls `stop` on the next SIGTERM or SIGINT (once). Returns the function that unregisters it;
 * call it from `close()`.
 */
export function stopOnSignals(stop: () => void): () => void {
  const once = () => {
    unregister();
    stop();
  };
  const unregister = () => {
    if (!stops.delete(once) || stops.size > 0) return;
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  };
  if (stops.size === 0) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
  stops.add(once);
  return unregister;
}
