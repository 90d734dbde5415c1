/**
 * The jetjob client SDK (`jetjob/client`).
 * @module
 */
export { createClient } from "./client.js";
export type { Client, ClientOptions, WaitOptions } from "./client.js";
export type { EnqueueOptions, Job, JobError, JobTypes, RetryOptions } from "./types.js";
export { ErrorCode, JetjobError, isJetjobError, isConflict, isNotFound } from "../core/errors.js";
