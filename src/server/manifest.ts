/** The OJS conformance manifest (`GET /ojs/manifest`, http-binding §21): what this server implements. */
import { OJS_VERSION } from "./ojs.js";

export function manifest(version: string): Record<string, unknown> {
  return {
    specversion: OJS_VERSION,
    ojs_version: OJS_VERSION,
    implementation: { name: "jetjob", version, language: "typescript", homepage: "/docs" },
    conformance_level: 4,
    protocols: ["http"],
    backend: "nats-jetstream",
    capabilities: {
      batch_enqueue: true,
      cron_jobs: true,
      dead_letter: true,
      delayed_jobs: true,
      job_ttl: true,
      priority_queues: true,
      rate_limiting: true,
      schema_validation: false,
      unique_jobs: true,
      workflows: true,
      pause_resume: true,
    },
    extensions: [],
  };
}
