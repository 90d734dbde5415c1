/**
 * The job-type map both SDKs are typed with: the client's `enqueue` and the worker's handlers. It
 * lives in core so that neither SDK imports the other.
 */

/** Maps job types to their argument tuples, for typed `enqueue` calls and handlers. */
export type JobTypes = Record<string, unknown[]>;
