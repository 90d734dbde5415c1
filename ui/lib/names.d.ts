// The server serves /ui/lib/names.js itself (src/server/ui.ts), built from src/core/states.ts and
// src/store/jobs/events.ts, so the dashboard never keeps its own copy of these names.

/** Every job state (OJS), in the server's order. */
export declare const jobStates: readonly string[];
/** Every lifecycle event type a queue or job stream sends. */
export declare const eventTypes: readonly string[];
