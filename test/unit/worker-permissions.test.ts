/**
 * The subject lists of a queue worker's NATS identity (access/worker-access.ts) and of an agent
 * granted queues (callout.ts permissionsOf), checked with NATS wildcard matching: a worker may ask the
 * relay about its own queues as itself, hear their cancel notices and events and its own replies;
 * nothing of JetStream (streams, consumers, KV, journals), no other queue, no other identity.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { permissionsOf } from "../../src/access/callout.js";
import type { IdentityRecord } from "../../src/access/identities.js";
import {
  relaySubject,
  workerInboxPrefix,
  workerPermissions,
  workerToken,
} from "../../src/access/worker-access.js";
import { principalUser, relayWorkerId } from "../../src/server/worker-relay.js";
import { hostToken, resolveTopology } from "../../src/store/infra/topology.js";

/** NATS subject matching: `*` one token, `>` one or more trailing tokens. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
const allowed = (list: string[], subject: string) => list.some((p) => matches(p, subject));

const t = resolveTopology();
const me = workerToken("etl");
const other = workerToken("etl-2");
const perms = workerPermissions(t, "etl", ["mail", "reports.daily"]);

describe("a queue worker's NATS permissions", () => {
  it("allow the relay of its own queues as itself, their notices and its replies", () => {
    for (const op of ["fetch", "ack", "nack", "beat", "progress"] as const) {
      assert.ok(allowed(perms.pub, relaySubject(t, "mail", me, op)), op);
      assert.ok(allowed(perms.pub, relaySubject(t, "reports.daily", me, op)), op);
    }
    assert.ok(allowed(perms.pub, "$JS.API.INFO"));
    for (const s of ["jj.cancel.mail", "jj.ev.mail", "jj.cancel.reports_daily", "jj.ev.reports_daily"])
      assert.ok(allowed(perms.sub, s), `subscribe ${s}`);
    assert.ok(allowed(perms.sub, `${workerInboxPrefix("etl")}.abc.1`));
  });

  it("refuse other queues, other identities, and everything of JetStream", () => {
    for (const s of [
      relaySubject(t, "billing", me, "fetch"),
      relaySubject(t, "mail", other, "ack"),
      relaySubject(t, "mail", hostToken("etl"), "ack"),
      "jj.wq.mail.*.fetch",
      "jj.q.mail.p100",
      "jj.q.billing.p100",
      "jj.j.0.42",
      "jj.dl.29000000",
      "jj.ev.mail",
      "jj.cancel.mail",
      "$JS.API.CONSUMER.MSG.NEXT.JJ_QUEUE.q_mail_p100",
      "$JS.API.CONSUMER.MSG.NEXT.JJ_QUEUE.q_billing_p100",
      "$JS.API.CONSUMER.CREATE.JJ_QUEUE.evil",
      "$JS.API.CONSUMER.DURABLE.CREATE.JJ_QUEUE.evil",
      "$JS.API.CONSUMER.DELETE.JJ_QUEUE.q_mail_p100",
      "$JS.API.STREAM.PURGE.JJ_QUEUE",
      "$JS.API.STREAM.DELETE.JJ_JOURNAL",
      "$JS.API.STREAM.INFO.JJ_QUEUE",
      "$JS.API.DIRECT.GET.JJ_QUEUE",
      "$JS.API.DIRECT.GET.JJ_JOURNAL.jj.j.0.42",
      "$JS.ACK.JJ_QUEUE.q_mail_p100.1.2.3.4.5",
      "$KV.jj_dlq.mail.x",
      "$KV.jj_stats.mail",
      "$KV.jj_workflows.w",
      "$KV.jj_agents.q.x",
      "$SYS.REQ.USER.AUTH",
    ]) {
      assert.ok(!allowed(perms.pub, s), `publish ${s}`);
    }
    for (const s of ["jj.cancel.billing", "jj.ev.billing", "jj.fx.h1", "_INBOX.x", "_INBOX_wother.x", ">"])
      assert.ok(!allowed(perms.sub, s), `subscribe ${s}`);
    // Nothing in its lists is a wildcard that could reach further than one of its queues.
    for (const p of [...perms.pub, ...perms.sub]) assert.ok(!p.startsWith(">") && !p.startsWith("*"), p);
  });

  it("an agent granted queues keeps its own rights and gets its queues' relay as its host", () => {
    const rec: IdentityRecord = {
      v: 1,
      kind: "agent",
      hostname: "web-01",
      queues: ["agents"],
      state: "accepted",
      secret_sha256: "x",
      requested_at: "2026-01-01T00:00:00Z",
    };
    const p = permissionsOf(t, rec);
    assert.ok(allowed(p.pub, relaySubject(t, "agents", hostToken("web-01"), "fetch")));
    assert.ok(!allowed(p.pub, relaySubject(t, "agents", hostToken("web-02"), "fetch")));
    assert.ok(!allowed(p.pub, relaySubject(t, "mail", hostToken("web-01"), "fetch")));
    assert.ok(allowed(p.pub, `$KV.jj_agents.a.${hostToken("web-01")}`), "its agent rights stay");
    const { queues: _q, ...noQueues } = rec;
    assert.ok(!permissionsOf(t, noQueues).pub.some((s) => s.includes(".wq.")), "no queues: no relay");
  });

  it("the relay knows who asks from the subject's principal token", () => {
    assert.equal(principalUser(workerToken("etl")), "worker:etl");
    assert.equal(principalUser(hostToken("web-01")), "agent:web-01");
    assert.equal(principalUser("x" + workerToken("etl").slice(1)), undefined);
    assert.equal(principalUser(`w${Buffer.from("a b").toString("base64url")}`), undefined);
    assert.equal(relayWorkerId("worker:etl", "3f2a"), "worker:etl/3f2a");
    assert.equal(relayWorkerId("worker:etl", "../x y"), "worker:etl/0", "a bad instance is not used");
  });
});
