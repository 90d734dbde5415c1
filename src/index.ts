/**
 * jetjob: a job system on NATS JetStream.
 * @module
 */
export const version = "0.1.0";
