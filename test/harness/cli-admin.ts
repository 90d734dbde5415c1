/**
 * What the CLI admin tests share (cli-admin.test.ts, cli-jobs.test.ts): running `jetjob` against one
 * `jetjob start` with --json, adding jobs, and claiming or dead-lettering a job as an HTTP worker.
 */
import assert from "node:assert/strict";

import type { Job } from "../../src/client/types.js";
import type { useJetjob } from "./cli.js";
import { cli, httpApi } from "./cli.js";

export function cliAdmin(s: ReturnType<typeof useJetjob>) {
  const run = (...args: string[]) => cli([...args, "--data-dir", s.jetjob.dataDir]);
  /** Runs with --json, expects exit 0, returns the parsed output. */
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await run(...args, "--json");
    assert.equal(r.code, 0, `jetjob ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  };
  const add = (queue: string, type = "test.job", ...args: string[]) =>
    json<Job>("job", "add", type, ...args, "--queue", queue);
  const api = () => httpApi(s.jetjob.dataDir);
  /** Claims the next job of `queue` as an HTTP worker would. */
  const fetchJob = async (queue: string, workerId = "cli-test") =>
    (
      await api().call<{ jobs: Job[] }>("POST", "/ojs/v1/workers/fetch", {
        queues: [queue],
        worker_id: workerId,
      })
    ).jobs;
  /** A job that failed its only attempt with on_exhaustion dead_letter (no CLI flag for that). */
  const deadLetter = async (queue: string): Promise<string> => {
    const { job } = await api().call<{ job: Job }>("POST", "/ojs/v1/jobs", {
      type: "test.fails",
      args: [],
      options: { queue, retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    });
    const [claimed] = await fetchJob(queue);
    assert.equal(claimed?.id, job.id);
    await api().call("POST", "/ojs/v1/workers/nack", { job_id: job.id, error: { message: "boom" } });
    return job.id;
  };
  return { run, json, add, api, fetchJob, deadLetter };
}
