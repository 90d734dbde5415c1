/**
 * The subject lists of an agent's NATS identity (access/permissions.ts), checked with NATS wildcard
 * matching: everything an agent must do is allowed, and nothing of another host, of the controller or
 * of stream administration is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { agentPermissions, inboxPrefixFor } from "../../src/access/permissions.js";
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
const a = hostToken("web-01");
const b = hostToken("web-02");
const job = "01a23f6a-81c4-7381-9400-8549bfcfcedf";
const perms = agentPermissions(t, "web-01");

describe("an agent's NATS permissions", () => {
  it("allow what the agent does", () => {
    for (const s of [
      `$KV.jj_agents.a.${a}`,
      `jj.ft.${job}.${a}`,
      `jj.ft.${job}.${a}.r`,
      `$JS.API.DIRECT.GET.KV_jj_fleet.$KV.jj_fleet.j.${job}`,
      `$JS.API.DIRECT.GET.KV_jj_fleet.$KV.jj_fleet.w.${a}`,
      `$JS.API.DIRECT.GET.JJ_FLEET.jj.ft.${job}.${a}`,
      `$JS.API.CONSUMER.CREATE.KV_jj_fleet.abc.$KV.jj_fleet.w.${a}`,
      "$JS.API.INFO",
    ]) {
      assert.ok(allowed(perms.pub, s), `publish ${s}`);
    }
    assert.ok(allowed(perms.sub, `jj.fx.${a}`));
    assert.ok(allowed(perms.sub, `${inboxPrefixFor("web-01")}.abc.1`));
  });

  it("refuse another host's subjects, the controller's, and administration", () => {
    for (const s of [
      `$KV.jj_agents.a.${b}`,
      `$KV.jj_agents.c.ctl-1`,
      `$KV.jj_agents.q.w1`,
      `jj.ft.${job}.${b}`,
      `jj.ft.${job}.${b}.r`,
      `jj.ft.${job}._`,
      `$KV.jj_fleet.j.${job}`,
      `$KV.jj_fleet.w.${a}`,
      `$JS.API.DIRECT.GET.KV_jj_fleet.$KV.jj_fleet.w.${b}`,
      `$JS.API.DIRECT.GET.JJ_FLEET.jj.ft.${job}.${b}`,
      `$JS.API.DIRECT.GET.JJ_FLEET`,
      `$JS.API.DIRECT.GET.KV_jj_tokens.$KV.jj_tokens.t.x`,
      `$JS.API.CONSUMER.CREATE.KV_jj_fleet.abc.$KV.jj_fleet.w.${b}`,
      `$JS.API.CONSUMER.CREATE.KV_jj_fleet.abc`,
      `$JS.API.CONSUMER.DELETE.KV_jj_fleet.abc`,
      "$JS.API.STREAM.PURGE.JJ_FLEET",
      "$JS.API.STREAM.DELETE.JJ_QUEUE",
      "$JS.API.STREAM.INFO.JJ_QUEUE",
      `jj.fx.${b}`,
      "jj.q.default.p100",
      `$SYS.REQ.USER.AUTH`,
    ]) {
      assert.ok(!allowed(perms.pub, s), `publish ${s}`);
    }
    for (const s of [
      `jj.fx.${b}`,
      "_INBOX.abc",
      `${inboxPrefixFor("web-02")}.x`,
      `jj.ft.${job}.${a}`,
      "jj.ev.q",
    ]) {
      assert.ok(!allowed(perms.sub, s), `subscribe ${s}`);
    }
  });

  it("a host token is one subject token (no '.', '*' or '>')", () => {
    // Tokens are whole subject tokens: `h` + base64url, never containing '.', '*' or '>'.
    for (const h of ["a", "web-01", "WEB-01.example.com", "x_y"])
      assert.match(hostToken(h), /^h[A-Za-z0-9_-]+$/);
  });
});
