/**
 * Exclusive keys handed on by per-key lines and records (store/features/exclusive.ts,
 * `JETJOB_EXCLUSIVE_SEQUENCER=0`) instead of the default sequencer: every case of exclusive.test.ts
 * and moved-copies.test.ts again in that mode.
 */

// Read by every store context this process makes, and by the worker processes it spawns.
process.env.JETJOB_EXCLUSIVE_SEQUENCER = "0";
await import("./exclusive.test.js");
await import("./moved-copies.test.js");
