/**
 * `npm run bench [-- --quick] [-- --scenario NAME]`: runs the benchmark scenarios, prints a table per
 * scenario and writes `bench/results/<date>-<scenario>.json` with the machine info. `--quick` is the
 * short smoke run CI uses (its results go to `<date>-<scenario>-quick.json`).
 * `npm run bench:readme` prints the README's tables from the latest full results.
 */
import { parseArgs } from "node:util";

import { setQuick } from "./lib/report.js";
import { backlogScenario } from "./scenarios/backlog.js";
import { bulkScenario } from "./scenarios/bulk.js";
import { exclusiveScenario } from "./scenarios/exclusive.js";
import { fanoutScenario } from "./scenarios/fanout.js";
import { httpScenario } from "./scenarios/http.js";
import { latencyScenario } from "./scenarios/latency.js";
import { throughputScenario } from "./scenarios/throughput.js";

const scenarios: Record<string, (quick: boolean) => Promise<void>> = {
  exclusive: exclusiveScenario,
  fanout: fanoutScenario,
  throughput: throughputScenario,
  latency: latencyScenario,
  bulk: bulkScenario,
  backlog: backlogScenario,
  http: httpScenario,
  soak: async (quick) => (await import("./scenarios/soak.js")).soakScenario(quick),
};

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, scenario: { type: "string", multiple: true } },
});
const chosen = values.scenario ?? Object.keys(scenarios);
for (const name of chosen) {
  const run = scenarios[name];
  if (!run) {
    process.stderr.write(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(", ")}\n`);
    process.exit(2);
  }
}
setQuick(values.quick);
const t0 = Date.now();
for (const name of chosen) {
  const t = Date.now();
  await scenarios[name]!(values.quick);
  process.stderr.write(`${name}: ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
}
process.stderr.write(`all scenarios: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
