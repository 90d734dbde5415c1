/**
 * The API server of the `http` scenario, run as a child process (forked by http-door.ts) so that the
 * load generator does not share its event loop: `runApiServer` as `jetjob server` runs it (engine,
 * fleet controller, metrics, housekeeping), over the NATS URL in `JETJOB_BENCH_NATS`, on a free
 * loopback port, with one write token (`JETJOB_BENCH_TOKEN`). It sends `{ url }` once it listens,
 * closes on the message "stop", and exits when the parent goes away (the IPC channel closes).
 */
import { createLogger } from "../../src/core/logger.js";
import { createAuthenticator } from "../../src/server/auth.js";
import { runApiServer } from "../../src/server/run.js";

const nats = process.env.JETJOB_BENCH_NATS;
const token = process.env.JETJOB_BENCH_TOKEN;
if (!nats || !token || !process.send) {
  process.stderr.write("http-door-server: run by bench/lib/http-door.ts (fork, with the env it sets)\n");
  process.exit(2);
}

const server = await runApiServer({
  nats: { servers: nats },
  port: 0,
  host: "127.0.0.1",
  auth: createAuthenticator([{ name: "bench", token, scope: "write" }]),
  logger: createLogger({ level: "warn", format: "text" }),
  version: "bench",
});
process.send({ url: server.url });

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await server.close();
  process.exit(0);
};
process.on("message", (m) => {
  if (m === "stop") void stop();
});
process.on("disconnect", () => void stop());
