/**
 * The OJS conformance manifest (`GET /ojs/manifest`, http-binding §21, ojs-conformance §4): what this
 * server implements.
 *
 * `extensions` uses the structured form of ojs-conformance §4.2.1 / ojs-extension-lifecycle §7: one
 * `{name, uri, version}` entry per extension, under `official` or `experimental` after the tier in the
 * extension's own spec header. An extension is listed only when it works: `npm test`
 * (scripts/test-all.mjs) reads this list from the running server and runs the conformance folder
 * `conformance/suites/ext-<name>` of each listed extension, so a listed extension must pass its cases.
 * @module
 */
import { OJS_VERSION } from "./ojs.js";

/** One supported extension (ojs-extension-lifecycle §7.2). */
export interface ExtensionEntry {
  /** The name segment of the URI; also the conformance folder `ext-<name>`. */
  readonly name: string;
  /** `urn:ojs:ext:<name>` (official) or `urn:ojs:ext:experimental:<name>`. */
  readonly uri: string;
  /** SemVer of the extension specification implemented. */
  readonly version: string;
}

/** Official extensions jetjob implements (one entry each; keep in name order). */
export const OFFICIAL_EXTENSIONS: readonly ExtensionEntry[] = [
  { name: "admin-api", uri: "urn:ojs:ext:admin-api", version: "1.0.0-rc.1" },
  { name: "backpressure", uri: "urn:ojs:ext:backpressure", version: "1.0.0-rc.1" },
  { name: "dead-letter", uri: "urn:ojs:ext:dead-letter", version: "1.0.0-rc.1" },
  { name: "graceful-shutdown", uri: "urn:ojs:ext:graceful-shutdown", version: "1.0.0-rc.1" },
  { name: "progress", uri: "urn:ojs:ext:progress", version: "1.0.0-rc.1" },
  { name: "schema-registry", uri: "urn:ojs:ext:schema-registry", version: "1.0.0-rc.1" },
];

/** Experimental extensions jetjob implements. */
export const EXPERIMENTAL_EXTENSIONS: readonly ExtensionEntry[] = [];

/** The manifest document for this server version. */
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
      // The admin UI shows its Crons page only under this name (/ojs/v1/crons, routes-ojs-cron.ts).
      cron: true,
      cron_jobs: true,
      dead_letter: true,
      delayed_jobs: true,
      // Lifecycle events: GET /ojs/v1/events and the SSE streams (the OJS admin UI shows its Events page
      // only when this is true).
      events: true,
      job_ttl: true,
      priority_queues: true,
      rate_limiting: true,
      schema_validation: true,
      unique_jobs: true,
      workflows: true,
      pause_resume: true,
    },
    extensions: { official: OFFICIAL_EXTENSIONS, experimental: EXPERIMENTAL_EXTENSIONS },
  };
}
