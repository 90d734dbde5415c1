/** Bearer-token checks (server/auth.ts), including the memo of accepted header values. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createAuthenticator, generateToken } from "../../src/server/auth.js";
import type { TokenEntry } from "../../src/server/auth.js";

const entries = (n: number): TokenEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `t${i}`,
    scope: i % 2 === 0 ? "write" : "read",
    token: generateToken(),
  }));

describe("createAuthenticator", () => {
  it("accepts each token again and again with its own name and scope", () => {
    const tokens = entries(3);
    const auth = createAuthenticator(tokens);
    for (let round = 0; round < 3; round++) {
      for (const t of tokens) {
        assert.deepEqual(auth.verify(`Bearer ${t.token}`), { name: t.name, scope: t.scope });
      }
    }
  });

  it("refuses what matches no token, also after the right token was accepted", () => {
    const [t] = entries(1);
    const auth = createAuthenticator([t!]);
    assert.ok(auth.verify(`Bearer ${t!.token}`));
    assert.equal(auth.verify(`Bearer ${t!.token}x`), undefined);
    assert.equal(auth.verify(`Bearer ${t!.token.slice(0, -1)}`), undefined);
    assert.equal(auth.verify(`Basic ${t!.token}`), undefined);
    assert.equal(auth.verify(`Bearer ${generateToken()}`), undefined);
    assert.equal(auth.verify(undefined), undefined);
    assert.equal(auth.verify(""), undefined);
  });

  it("gives every token the right answer when more clients than it remembers take turns", () => {
    const tokens = entries(100);
    const auth = createAuthenticator(tokens);
    for (let round = 0; round < 2; round++) {
      for (const t of tokens) assert.equal(auth.verify(`Bearer ${t.token}`)?.name, t.name);
    }
  });
});
