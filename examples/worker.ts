// A NATS-direct worker: takes jobs straight from JetStream and runs handlers (10 at a time).
// Run: npx tsx examples/worker.ts   (after `npm start` in another terminal)
import { readFileSync } from "node:fs";

import { createWorker } from "jetjob/worker";

const { nats } = JSON.parse(readFileSync(".jetjob/endpoints.json", "utf8")) as { nats: string };

const worker = createWorker<{ "email.send": [to: string, template: string] }>({
  nats,
  queues: ["default"],
  concurrency: 10,
  handlers: {
    "email.send": (job) => {
      console.log(`sending ${job.args[1]} to ${job.args[0]} (attempt ${job.attempt})`);
      return { delivered: true };
    },
  },
});
await worker.ready;
console.log(`worker ${worker.id} is running; Ctrl-C drains and stops it`);
