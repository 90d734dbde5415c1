import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkResponse, CROSS_STEP_KEYS } from "../../conformance/runner/assertions.js";
import { DEFAULT_SUITES_DIR, parseCliArgs, parseLevels, UsageError } from "../../conformance/runner/cli.js";
import type { Json } from "../../conformance/runner/json.js";
import { isJsonObject } from "../../conformance/runner/json.js";
import { parsePath } from "../../conformance/runner/jsonpath.js";
import { loadCases, selectCases } from "../../conformance/runner/load.js";
import { unresolvedTemplates } from "../../conformance/runner/templates.js";

void describe("parseLevels", () => {
  const cases: [string, number[]][] = [
    ["2", [2]],
    ["0-4", [0, 1, 2, 3, 4]],
    ["0,1", [0, 1]],
    ["3,0-1", [0, 1, 3]],
    ["1,1", [1]],
  ];
  for (const [spec, expected] of cases) {
    void it(`parses ${spec}`, () => assert.deepEqual(parseLevels(spec), expected));
  }
  for (const bad of ["", "x", "4-2", "1-", "-1", "1;2"]) {
    void it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseLevels(bad), UsageError));
  }
});

void describe("parseCliArgs", () => {
  void it("uses defaults", () => {
    const options = parseCliArgs([], {});
    assert.equal(options.baseUrl, "http://127.0.0.1:8080");
    assert.equal(options.token, undefined);
    assert.deepEqual(options.levels, [0, 1, 2, 3, 4]);
    assert.equal(options.resetUrl, "http://127.0.0.1:8080/ojs/v1/admin/reset");
    assert.equal(options.tolerancePct, 50);
    assert.equal(options.suitesDir, DEFAULT_SUITES_DIR);
    assert.match(DEFAULT_SUITES_DIR, /conformance[/\\]suites$/);
    assert.equal(options.json, false);
  });

  void it("reads the environment, flags win", () => {
    const env = { OJS_TEST_URL: "http://env:1/", JETJOB_API_TOKEN: "envtoken" };
    const fromEnv = parseCliArgs([], env);
    assert.equal(fromEnv.baseUrl, "http://env:1");
    assert.equal(fromEnv.token, "envtoken");
    assert.equal(fromEnv.resetUrl, "http://env:1/ojs/v1/admin/reset");
    const fromFlags = parseCliArgs(["--url", "http://flag:2", "--token", "t"], env);
    assert.equal(fromFlags.baseUrl, "http://flag:2");
    assert.equal(fromFlags.token, "t");
  });

  void it("accepts repeated and comma-separated lists", () => {
    const options = parseCliArgs(
      ["--test", "A,B", "--test", "C", "--skip", "X", "--skip", "Y,Z", "--category", "cron,delay"],
      {},
    );
    assert.deepEqual(options.testIds, ["A", "B", "C"]);
    assert.deepEqual(options.skipIds, ["X", "Y", "Z"]);
    assert.deepEqual(options.categories, ["cron", "delay"]);
  });

  void it("handles reset, tolerance, json and levels", () => {
    const options = parseCliArgs(["--no-reset", "--tolerance", "20", "--json", "--level", "0,1"], {});
    assert.equal(options.resetUrl, undefined);
    assert.equal(options.tolerancePct, 20);
    assert.equal(options.json, true);
    assert.deepEqual(options.levels, [0, 1]);
    assert.equal(parseCliArgs(["--reset-url", "http://x/r"], {}).resetUrl, "http://x/r");
  });

  void it("--ext selects extension folders and, without --level, no core level", () => {
    const none = parseCliArgs([], {});
    assert.deepEqual(none.extensions, []);
    const ext = parseCliArgs(["--ext", "progress,observability", "--ext", "graceful-shutdown"], {});
    assert.deepEqual(ext.extensions, ["progress", "observability", "graceful-shutdown"]);
    assert.deepEqual(ext.levels, []);
    assert.equal(parseCliArgs(["--ext", "progress,all"], {}).extensions, "all");
    assert.deepEqual(parseCliArgs(["--ext", "progress", "--level", "0-1"], {}).levels, [0, 1]);
  });

  const bad: string[][] = [
    ["--bogus"],
    ["positional"],
    ["--url", "ftp://x"],
    ["--url", "not a url"],
    ["--tolerance", "-1"],
    ["--tolerance", "abc"],
    ["--level", "a"],
    ["--no-reset", "--reset-url", "http://x"],
    ["--ext", ""],
  ];
  for (const args of bad) {
    void it(`rejects ${args.join(" ")}`, () => assert.throws(() => parseCliArgs(args, {}), UsageError));
  }
});

void describe("vendored core suites", () => {
  void it("load by folder: 65 + 25 + 13 + 14 + 16 cases, sorted by test_id then file", async () => {
    const cases = await loadCases(DEFAULT_SUITES_DIR, [0, 1, 2, 3, 4]);
    const counts = [0, 1, 2, 3, 4].map((level) => cases.filter((tc) => tc.level === level).length);
    assert.deepEqual(counts, [65, 25, 13, 14, 16]);
    const keys = cases.map((tc) => `${tc.testId} ${tc.file}`);
    assert.deepEqual(keys, [...keys].sort());
    // duplicated test ids stay distinct by file
    assert.equal(cases.filter((tc) => tc.testId === "L0-OPS-015").length, 2);
    assert.equal(selectCases(cases, { testIds: ["L0-OPS-015"] }).length, 2);
    assert.equal(selectCases(cases, { categories: ["cron"] }).length, 8);
  });

  void it("vendored extension suites load by folder with --ext all, apart from the levels", async () => {
    const cases = await loadCases(DEFAULT_SUITES_DIR, [], "all");
    const counts: Record<string, number> = {};
    for (const tc of cases) {
      assert.equal(tc.level, null);
      counts[tc.extension ?? "?"] = (counts[tc.extension ?? "?"] ?? 0) + 1;
    }
    assert.deepEqual(counts, {
      "admin-api": 6,
      backpressure: 5,
      "dead-letter": 4,
      "graceful-shutdown": 3,
      observability: 5,
      progress: 3,
      "rate-limiting": 5,
      "schema-registry": 12,
    });
    const progress = await loadCases(DEFAULT_SUITES_DIR, [], ["progress"]);
    assert.deepEqual(progress.map((tc) => tc.testId).sort(), ["EXT-PRG-001", "EXT-PRG-002", "EXT-PRG-003"]);
  });

  void it("use only supported assertion keys, parsable paths and resolvable template syntax", async () => {
    const cases = await loadCases(DEFAULT_SUITES_DIR, [0, 1, 2, 3, 4], "all");
    const context = new Map([["x", { body: undefined }]]);
    const response = { status: 200, headers: {}, text: "", body: undefined, durationMs: 1 };
    for (const tc of cases) {
      const captured = new Set<string>();
      for (const step of [...tc.setup, ...tc.steps, ...tc.teardown]) {
        const assertions = step.assertions ?? {};
        const unsupported = checkResponse(assertions, response, context, {
          tolerancePct: 50,
          strictBody: false,
        }).filter((m) => m.startsWith("unsupported"));
        assert.deepEqual(unsupported, [], `${tc.file} ${step.id}`);
        if (step.action === "ASSERT") {
          assert.ok(
            Object.keys(assertions).every((key) => CROSS_STEP_KEYS.has(key)),
            `${tc.file} ${step.id}`,
          );
        }
        const body = assertions["body"];
        const entries: [string, Json][] = isJsonObject(body) ? Object.entries(body) : [];
        for (const [key, matcher] of entries) {
          const keys =
            key === "$or" && Array.isArray(matcher)
              ? matcher.flatMap((alt) => (isJsonObject(alt) ? Object.keys(alt) : []))
              : [key];
          for (const path of keys.filter((k) => k.startsWith("$."))) {
            assert.doesNotThrow(() => parsePath(path), `${tc.file} ${step.id} ${path}`);
          }
        }
        // every "{{" in the step belongs to a template the resolver recognises (or to a value an
        // earlier step captured)
        const text = JSON.stringify({ path: step.path ?? "", body: step.body ?? null, assertions });
        const templates = text.split("{{").length - 1;
        const captures = [...text.matchAll(/\{\{(\w+)\}\}/g)].filter((m) => captured.has(m[1] ?? ""));
        for (const name of Object.keys(step.capture ?? {})) captured.add(name);
        assert.equal(
          unresolvedTemplates(text).length + captures.length,
          templates,
          `${tc.file} ${step.id}: unknown template form`,
        );
      }
    }
  });
});
