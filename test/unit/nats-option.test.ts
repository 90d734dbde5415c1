/**
 * The SDKs' `nats` option is checked at the edge (nats/connect.ts checkNatsOption): connect options
 * given there, as other NATS libraries take them, are refused with `invalid_request` and a hint,
 * instead of failing deep inside with a TypeError. Nothing here reaches a NATS server.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { checkNatsOption } from "../../src/nats/connect.js";
import { createWorker } from "../../src/worker/index.js";
import { silentLogger } from "../../src/core/logger.js";

const refused = (where: string) => (err: unknown) => {
  assert.ok(isJetjobError(err), String(err));
  assert.equal(err.code, ErrorCode.InvalidRequest);
  assert.match(err.message, new RegExp(`^${where}: \`nats\` must be a NATS URL`));
  assert.match(err.hint ?? "", /natsOptions/);
  return true;
};

describe("the nats option", () => {
  it("takes a URL or something shaped like a connection", () => {
    checkNatsOption("nats://127.0.0.1:4222", "x");
    checkNatsOption({ subscribe: () => undefined, publish: () => undefined }, "x");
  });

  it("refuses connect options, null and other values, naming what it got", () => {
    assert.throws(
      () => checkNatsOption({ servers: "nats://h:4222", user: "u", pass: "p" }, "x"),
      refused("x"),
    );
    assert.throws(() => checkNatsOption(null, "x"), /not null/);
    assert.throws(() => checkNatsOption(4222, "x"), /not number/);
  });

  it("createClient throws at once; createWorker's ready rejects", async () => {
    const options = { nats: { servers: "nats://127.0.0.1:1" } as unknown as string };
    assert.throws(() => createClient(options), refused("createClient"));
    const worker = createWorker({
      ...options,
      queues: ["q"],
      handlers: {},
      handleSignals: false,
      logger: silentLogger,
    });
    await assert.rejects(worker.ready, refused("createWorker"));
    await worker.close();
  });
});
