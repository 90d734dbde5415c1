import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { runCli } from "../../conformance/runner/cli.js";
import { groupSteps } from "../../conformance/runner/execute.js";
import { parseStep } from "../../conformance/runner/case.js";
import type { Json, JsonObject } from "../../conformance/runner/json.js";
import { isJsonObject } from "../../conformance/runner/json.js";

// ---------------------------------------------------------------------------------------------
// A tiny fake OJS server: enqueue, info, fetch (slow, so that concurrency is observable), reset.
// ---------------------------------------------------------------------------------------------

interface Logged {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

class FakeServer {
  readonly log: Logged[] = [];
  resetStatus = 200;
  fetchDelayMs = 150;
  inFlightFetches = 0;
  maxInFlightFetches = 0;
  #jobs = new Map<string, JsonObject>();
  #queue: string[] = [];
  #nextId = 1;
  #server: Server = createServer((req, res) => {
    this.#handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      this.#server.close((err) => (err ? reject(err) : resolve())),
    );
  }

  clear(): void {
    this.log.length = 0;
    this.maxInFlightFetches = 0;
    this.resetStatus = 200;
  }

  #send(res: ServerResponse, status: number, body: Json): void {
    res.writeHead(status, { "Content-Type": "application/openjobspec+json", "OJS-Version": "1.0" });
    res.end(JSON.stringify(body));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    this.log.push({ method, url, headers: req.headers, body });

    if (method === "POST" && url === "/ojs/v1/admin/reset") {
      this.#jobs.clear();
      this.#queue = [];
      this.#send(
        res,
        this.resetStatus,
        this.resetStatus === 200 ? { reset: true } : { error: { code: "disabled" } },
      );
      return;
    }
    if (method === "GET" && url === "/ojs/v1/health") return this.#send(res, 200, { status: "ok" });
    if (method === "POST" && url === "/ojs/v1/jobs") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return this.#send(res, 400, {
          error: { code: "invalid_payload", message: "bad JSON", retryable: false },
        });
      }
      if (!isJsonObject(parsed) || typeof parsed["type"] !== "string") {
        return this.#send(res, 400, {
          error: { code: "invalid_request", message: "type required", retryable: false },
        });
      }
      const id = `job-${this.#nextId++}`;
      const job: JsonObject = { id, type: parsed["type"], state: "available", attempt: 0 };
      this.#jobs.set(id, job);
      this.#queue.push(id);
      return this.#send(res, 201, { job });
    }
    const info = /^\/ojs\/v1\/jobs\/([^/?]+)$/.exec(url);
    if (method === "GET" && info !== null) {
      const job = this.#jobs.get(decodeURIComponent(info[1] ?? ""));
      if (job === undefined)
        return this.#send(res, 404, { error: { code: "not_found", message: "no such job" } });
      return this.#send(res, 200, { job });
    }
    if (method === "POST" && url === "/ojs/v1/workers/fetch") {
      this.inFlightFetches += 1;
      this.maxInFlightFetches = Math.max(this.maxInFlightFetches, this.inFlightFetches);
      await new Promise((resolve) => setTimeout(resolve, this.fetchDelayMs));
      this.inFlightFetches -= 1;
      const id = this.#queue.shift();
      const job = id === undefined ? undefined : this.#jobs.get(id);
      if (job === undefined) return this.#send(res, 200, { jobs: [] });
      job["state"] = "active";
      job["attempt"] = 1;
      return this.#send(res, 200, { jobs: [job], job });
    }
    this.#send(res, 404, { error: { code: "not_found", message: `no route ${method} ${url}` } });
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-written mini cases.
// ---------------------------------------------------------------------------------------------

const ENQUEUE = { id: "step-1", action: "POST", path: "/ojs/v1/jobs", body: { type: "test.echo", args: [] } };

const CASES: Record<string, Json> = {
  "level-0-core/ops/pass.json": {
    test_id: "T0-PASS-001",
    level: 0,
    category: "ops",
    steps: [
      {
        ...ENQUEUE,
        assertions: {
          status: 201,
          headers: { "Content-Type": "application/openjobspec+json", "OJS-Version": "1.0" },
          body: {
            "$.job.id": "string:nonempty",
            "$.job.state": "available",
            "$.job.attempt": 0,
            "$.job.error": "absent",
          },
        },
      },
      {
        id: "step-2",
        action: "GET",
        path: "/ojs/v1/jobs/{{steps.step-1.response.body.job.id}}",
        delay_ms: 20,
        assertions: {
          status: "one_of:200,203",
          body: { "$.job.id": "{{steps.step-1.response.body.job.id}}" },
        },
      },
      { id: "step-3", action: "WAIT", duration_ms: 30 },
      {
        id: "step-4",
        action: "GET",
        path: "/ojs/v1/jobs/{{steps.step-1.response.body.job.id}}",
        assertions: { status: 200 },
      },
      {
        id: "step-5",
        action: "ASSERT",
        assertions: { equality: { "$.steps.step-2.response.body": "{{steps.step-4.response.body}}" } },
      },
    ],
  },
  "level-0-core/ops/fail.json": {
    test_id: "T0-FAIL-002",
    level: 0,
    category: "ops",
    steps: [
      { ...ENQUEUE, assertions: { status: 201, body: { "$.job.state": "active", "$.job.attempt": 0 } } },
      { id: "step-2", action: "GET", path: "/ojs/v1/never-called", assertions: { status: 200 } },
    ],
  },
  "level-0-core/ops/parallel.json": {
    test_id: "T0-PAR-003",
    level: 0,
    category: "concurrency",
    steps: [
      { ...ENQUEUE, assertions: { status: 201 } },
      {
        id: "step-2",
        action: "POST",
        path: "/ojs/v1/workers/fetch",
        parallel_with: "step-3",
        body: { queues: ["default"], worker_id: "a" },
        assertions: { status: 200 },
      },
      {
        id: "step-3",
        action: "POST",
        path: "/ojs/v1/workers/fetch",
        parallel_with: "step-2",
        body: { queues: ["default"], worker_id: "b" },
        assertions: { status: 200 },
      },
      {
        id: "step-4",
        action: "ASSERT",
        assertions: {
          exclusive_claim: {
            job_id: "{{steps.step-1.response.body.job.id}}",
            fetches: ["{{steps.step-2.response.body.jobs}}", "{{steps.step-3.response.body.jobs}}"],
            exactly_one_has_job: true,
            exactly_one_empty: true,
          },
        },
      },
    ],
  },
  "level-1-reliable/raw/raw-body.json": {
    test_id: "T1-RAW-001",
    level: 1,
    category: "raw",
    steps: [
      {
        id: "step-1",
        action: "POST",
        path: "/ojs/v1/jobs",
        headers: { "Content-Type": "application/json" },
        raw_body: "{ invalid json }",
        assertions: { status: 400, body: { "$.error.code": "invalid_payload", "$.error.retryable": false } },
      },
    ],
  },
  // An extension case: it says level 0 inside, like the upstream ext-* files; its folder decides.
  "ext-demo/demo.json": {
    test_id: "EXT-DEMO-001",
    level: 0,
    category: "ext-demo",
    steps: [
      { ...ENQUEUE, assertions: { status: 201 }, capture: { job_id: "$.job.id" } },
      {
        id: "step-2",
        action: "GET",
        path: "/ojs/v1/jobs/{{job_id}}",
        assertions: { status: 200, body: { "$.job.id": "{{job_id}}", "$.job.attempt": { $type: "number" } } },
      },
    ],
  },
};

async function writeCases(dir: string): Promise<void> {
  for (const [file, content] of Object.entries(CASES)) {
    const path = join(dir, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(content, null, 2));
  }
}

interface CliRun {
  readonly code: number;
  readonly stdout: string[];
  readonly stderr: string[];
}

async function cli(args: string[]): Promise<CliRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(
    args,
    {},
    { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) },
  );
  return { code, stdout, stderr };
}

function parseReport(run: CliRun): JsonObject {
  assert.equal(run.stdout.length, 1, run.stdout.join("\n"));
  const report: unknown = JSON.parse(run.stdout[0] ?? "");
  assert.ok(isJsonObject(report));
  return report;
}

void describe("conformance runner end to end", () => {
  const server = new FakeServer();
  let url = "";
  let suites = "";

  before(async () => {
    url = await server.start();
    suites = await mkdtemp(join(tmpdir(), "jetjob-conformance-"));
    await writeCases(suites);
  });
  after(async () => {
    await server.stop();
    await rm(suites, { recursive: true, force: true });
  });
  beforeEach(() => server.clear());

  void it("passes, fails and reports as JSON", async () => {
    const run = await cli(["--url", url, "--suites", suites, "--token", "s3cret", "--json"]);
    assert.equal(run.code, 1);
    const report = parseReport(run);
    assert.equal(report["total"], 4);
    assert.equal(report["passed"], 3);
    assert.equal(report["failed"], 1);
    assert.equal(report["skipped"], 0);
    assert.deepEqual(report["by_level"], {
      "0": { total: 3, passed: 2, failed: 1, skipped: 0 },
      "1": { total: 1, passed: 1, failed: 0, skipped: 0 },
    });
    assert.deepEqual(report["failures"], [
      {
        test_id: "T0-FAIL-002",
        file: "level-0-core/ops/fail.json",
        level: 0,
        messages: ['step-1 (POST /ojs/v1/jobs): body $.job.state: expected "active", got "available"'],
      },
    ]);
    // the failing test stopped at its failing step
    assert.equal(server.log.filter((r) => r.url === "/ojs/v1/never-called").length, 0);
  });

  void it("resets before every test and sends the token on every request", async () => {
    await cli(["--url", url, "--suites", suites, "--token", "s3cret", "--json"]);
    const requests = server.log.filter((r) => r.url !== "/ojs/v1/health");
    const resets = requests.filter((r) => r.url === "/ojs/v1/admin/reset");
    assert.equal(resets.length, 4);
    assert.equal(requests[0]?.url, "/ojs/v1/admin/reset");
    // each test begins right after a reset: the request following every reset is a job enqueue
    requests.forEach((request, i) => {
      if (request.url === "/ojs/v1/admin/reset") assert.equal(requests[i + 1]?.url, "/ojs/v1/jobs");
    });
    assert.ok(server.log.every((r) => r.headers.authorization === "Bearer s3cret"));
  });

  void it("runs parallel_with steps concurrently and checks the exclusive claim", async () => {
    server.fetchDelayMs = 300;
    const run = await cli(["--url", url, "--suites", suites, "--test", "T0-PAR-003", "--json"]);
    server.fetchDelayMs = 150;
    assert.equal(run.code, 0, run.stdout.join("\n"));
    // Both fetches were in flight at the same moment: the steps ran concurrently.
    assert.equal(server.maxInFlightFetches, 2);
  });

  void it("sends raw_body verbatim and a default Content-Type with JSON bodies", async () => {
    const run = await cli([
      "--url",
      url,
      "--suites",
      suites,
      "--level",
      "0-1",
      "--test",
      "T1-RAW-001,T0-PASS-001",
    ]);
    assert.equal(run.code, 0, run.stdout.join("\n"));
    const posts = server.log.filter((r) => r.method === "POST" && r.url === "/ojs/v1/jobs");
    assert.deepEqual(
      posts.map((r) => [r.body, r.headers["content-type"]]),
      [
        ['{"type":"test.echo","args":[]}', "application/openjobspec+json"],
        ["{ invalid json }", "application/json"],
      ],
    );
    assert.equal(server.log[0]?.headers.authorization, undefined);
  });

  void it("prints FAIL lines, level summaries and the closing line as text", async () => {
    const run = await cli(["--url", url, "--suites", suites, "--skip", "T0-PAR-003"]);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout, [
      'FAIL T0-FAIL-002 level-0-core/ops/fail.json — step-1 (POST /ojs/v1/jobs): body $.job.state: expected "active", got "available"',
      "SKIP T0-PAR-003 level-0-core/ops/parallel.json",
      "level 0: 1/2 passed",
      "level 1: 1/1 passed",
      "1 skipped",
      "2 passed, 1 failed",
    ]);
    assert.equal(server.log.filter((r) => r.url === "/ojs/v1/workers/fetch").length, 0);
  });

  void it("exits 0 when everything selected passes and honours --level and --category", async () => {
    const run = await cli(["--url", url, "--suites", suites, "--level", "1"]);
    assert.deepEqual(run.stdout, ["level 1: 1/1 passed", "1 passed, 0 failed"]);
    assert.equal(run.code, 0);
    const byCategory = await cli(["--url", url, "--suites", suites, "--category", "concurrency"]);
    assert.deepEqual(byCategory.stdout.at(-1), "1 passed, 0 failed");
  });

  void it("runs extension folders only with --ext, alone unless --level is given", async () => {
    const alone = await cli(["--url", url, "--suites", suites, "--ext", "demo"]);
    assert.deepEqual(alone.stdout, ["ext demo: 1/1 passed", "1 passed, 0 failed"]);
    assert.equal(alone.code, 0);
    // the captured id went into the second step's path
    assert.ok(server.log.some((r) => r.method === "GET" && /^\/ojs\/v1\/jobs\/job-\d+$/.test(r.url)));
    const all = await cli(["--url", url, "--suites", suites, "--ext", "all"]);
    assert.deepEqual(all.stdout, alone.stdout);
    const mixed = await cli(["--url", url, "--suites", suites, "--ext", "demo", "--level", "1", "--json"]);
    const report = parseReport(mixed);
    assert.deepEqual(report["by_level"], { "1": { total: 1, passed: 1, failed: 0, skipped: 0 } });
    assert.deepEqual(report["by_extension"], { demo: { total: 1, passed: 1, failed: 0, skipped: 0 } });
    assert.equal(report["passed"], 2);
    const missing = await cli(["--url", url, "--suites", suites, "--ext", "demo,nope"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr.join("\n"), /no extension folder ext-nope/);
  });

  void it("stops with exit code 2 when the reset fails", async () => {
    server.resetStatus = 403;
    const run = await cli(["--url", url, "--suites", suites]);
    assert.equal(run.code, 2);
    assert.match(run.stderr[0] ?? "", /reset POST .*\/ojs\/v1\/admin\/reset answered 403/);
    assert.equal(server.log.filter((r) => r.url === "/ojs/v1/jobs").length, 0);
  });

  void it("does not reset with --no-reset and uses --reset-url otherwise", async () => {
    await cli(["--url", url, "--suites", suites, "--no-reset", "--level", "1"]);
    assert.equal(server.log.filter((r) => r.url.includes("reset")).length, 0);
    server.clear();
    const run = await cli([
      "--url",
      url,
      "--suites",
      suites,
      "--level",
      "1",
      "--reset-url",
      `${url}/custom-reset`,
    ]);
    assert.equal(run.code, 2); // the fake server answers 404 there
    assert.equal(server.log.filter((r) => r.url === "/custom-reset").length, 1);
  });

  void it("exits 2 when the server is unreachable or nothing is selected", async () => {
    const unreachable = await cli(["--url", "http://127.0.0.1:9", "--suites", suites]);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr[0] ?? "", /server unreachable/);
    const none = await cli(["--url", url, "--suites", suites, "--test", "NOPE"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr.join("\n"), /no tests selected/);
  });
});

void describe("groupSteps", () => {
  void it("groups steps linked by parallel_with at the position of their first member", () => {
    const steps = [
      { id: "a", action: "POST" },
      { id: "b", action: "POST", parallel_with: "d" },
      { id: "c", action: "GET" },
      { id: "d", action: "POST" },
      { id: "e", action: "POST", parallel_with: "d" },
    ].map((raw) => parseStep(raw, "test"));
    assert.deepEqual(
      groupSteps(steps).map((group) => group.map((step) => step.id)),
      [["a"], ["b", "d", "e"], ["c"]],
    );
  });
});
