/**
 * The command shown with an enrollment token (routes-identities.ts `advertisedNatsUrl`,
 * access/enrollment.ts `enrollCommand`): a loopback NATS URL becomes the host the dashboard was
 * reached at, other hosts stay, credentials in a URL are never shown.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { enrollCommand } from "../../src/access/enrollment.js";
import { advertisedNatsUrl } from "../../src/server/routes-identities.js";

describe("enroll command", () => {
  it("replaces a loopback or any-address NATS host with the host the dashboard was reached at", () => {
    assert.equal(
      advertisedNatsUrl(["nats://127.0.0.1:4222"], "ops.example.com"),
      "nats://ops.example.com:4222",
    );
    assert.equal(advertisedNatsUrl(["nats://0.0.0.0:4222"], "10.0.0.5"), "nats://10.0.0.5:4222");
    assert.equal(advertisedNatsUrl(["nats://localhost:4222"], "127.0.0.1"), "nats://localhost:4222");
  });

  it("keeps a real NATS host and its scheme, the first of several, without credentials", () => {
    assert.equal(advertisedNatsUrl(["tls://nats1.example.com:4222"], "ops"), "tls://nats1.example.com:4222");
    assert.equal(advertisedNatsUrl(["nats://a:4222,nats://b:4222"], "ops"), "nats://a:4222");
    assert.equal(advertisedNatsUrl(["nats://jetjob:hunter2@nats1:4222"], "ops"), "nats://nats1:4222");
    assert.equal(advertisedNatsUrl(["nats1:4222"], "ops"), "nats://nats1:4222");
    assert.equal(advertisedNatsUrl([], "ops"), "nats://<nats-host>:4222");
  });

  it("is the CLI's enroll command", () => {
    assert.equal(
      enrollCommand({ natsUrl: "nats://ops:4222", token: "jje_x" }),
      "jetjob agent --nats nats://ops:4222 --enroll --enroll-token jje_x",
    );
  });
});
