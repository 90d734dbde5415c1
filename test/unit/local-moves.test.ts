import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Store } from "../../src/core/ids.js";
import { movedHereLocally, trackMove } from "../../src/store/segments/local-moves.js";

/** A promise and its resolver. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("local moves (claim check of copies this process moved)", () => {
  it("knows only the slots whose pointer was written, and nothing for other segments or owners", async () => {
    const owner = {};
    await trackMove(
      owner,
      () => Promise.resolve({ store: Store.Queue, seq: 7 }),
      () => Promise.resolve(new Set([0, 2])),
    );
    assert.equal(await movedHereLocally(owner, Store.Queue, 7, 0), true);
    assert.equal(
      await movedHereLocally(owner, Store.Queue, 7, 1),
      undefined,
      "pointer not written: check as usual",
    );
    assert.equal(await movedHereLocally(owner, Store.Queue, 8, 0), undefined);
    assert.equal(await movedHereLocally({}, Store.Queue, 7, 0), undefined);
  });

  it("a claim that arrives before the pointers waits for them instead of re-reading", async () => {
    const owner = {};
    const published = deferred<{ store: Store; seq: number }>();
    const pointed = deferred<ReadonlySet<number>>();
    const move = trackMove(
      owner,
      () => published.promise,
      () => pointed.promise,
    );
    // The copy's delivery can come before the mover knows its sequence.
    const check = movedHereLocally(owner, Store.Queue, 9, 0);
    published.resolve({ store: Store.Queue, seq: 9 });
    await new Promise((r) => setTimeout(r, 5));
    pointed.resolve(new Set([0]));
    assert.equal(await check, true);
    await move;
  });

  it("a failed move is not trusted", async () => {
    const owner = {};
    await assert.rejects(
      trackMove(
        owner,
        () => Promise.resolve({ store: Store.Queue, seq: 3 }),
        () => Promise.reject(new Error("append failed")),
      ),
    );
    assert.equal(await movedHereLocally(owner, Store.Queue, 3, 0), undefined);
  });
});
