/**
 * The job-type map both SDKs are typed with: the client's `enqueue`, workflows and `waitFor`, and
 * the worker's handlers. It lives in core so that neither SDK imports the other.
 *
 * Each entry is either the job's argument tuple, or `{ args, result }` to type its result too:
 *
 * ```ts
 * type Jobs = {
 *   "email.send": [to: string, subject: string];                        // args only
 *   "image.resize": { args: [url: string, width: number]; result: { url: string } };
 * };
 * ```
 */

/** A job type's entry: its argument tuple, or its arguments and its result. */
export type JobTypeEntry = unknown[] | { args: unknown[]; result?: unknown };

/** Maps job types to their arguments (and results), for typed `enqueue` calls and handlers. */
export type JobTypes = Record<string, JobTypeEntry>;

/** The argument tuple of a job type's entry. */
export type ArgsOf<E> = E extends unknown[]
  ? E
  : E extends { args: infer A extends unknown[] }
    ? A
    : unknown[];

/** The result type of a job type's entry (`unknown` when the entry gives none). */
export type ResultOf<E> = E extends { result?: infer R } ? (unknown extends R ? unknown : R) : unknown;
