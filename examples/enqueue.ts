// Enqueue a job with the client SDK and wait for its result.
// Run: npx tsx examples/enqueue.ts   (with `npm start` and examples/worker.ts running)
import { readFileSync } from "node:fs";

import { createClient } from "jetjob/client";

const { api } = JSON.parse(readFileSync(".jetjob/endpoints.json", "utf8")) as { api: string };
const token = readFileSync(".jetjob/admin.token", "utf8").trim();

const client = createClient<{ "email.send": [to: string, template: string] }>({ url: api, token });
const job = await client.enqueue("email.send", ["ada@example.com", "welcome"], { retry: { maxAttempts: 5 } });
console.log("enqueued", job.id, job.state);
const done = await client.waitFor(job.id, { timeoutMs: 30_000 });
console.log("finished", done.state, done.result);
