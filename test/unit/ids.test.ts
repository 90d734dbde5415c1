import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { EncodedId } from "../../src/core/ids.js";
import {
  MAX_SEGMENT_JOBS,
  Store,
  decodeJobId,
  derivedJobId,
  encodeJobId,
  segmentRandom,
  uuidv7,
  uuidv7Pattern,
  uuidv7Time,
} from "../../src/core/ids.js";

const stores: Store[] = [Store.Queue, Store.Delay, Store.Fleet];
const seqs = [
  1,
  2,
  3,
  255,
  256,
  2 ** 20,
  2 ** 30 - 1,
  2 ** 30,
  2 ** 30 + 1,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 33 + 12345,
  2 ** 39 - 1,
  2 ** 39,
  2 ** 40 - 2,
  2 ** 40 - 1,
];
const idxs = [0, 1, 2, 511, 512, 1000, MAX_SEGMENT_JOBS - 1];
const rnds = [0, 1, 0x7ffff, 0x80000, 0xabcde, 2 ** 20 - 1];
const times = [0, 1, 1_700_000_000_000, 1_770_892_200_123, 2 ** 32, 2 ** 47, 2 ** 48 - 1];

/** Deterministic pseudo-random numbers (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function roundTrip(e: EncodedId): void {
  const id = encodeJobId(e);
  assert.match(id, uuidv7Pattern, `${JSON.stringify(e)} -> ${id}`);
  assert.equal(id.length, 36);
  assert.equal(id[14], "7");
  assert.deepEqual(decodeJobId(id), e, `${JSON.stringify(e)} -> ${id}`);
  assert.equal(uuidv7Time(id), e.timeMs);
}

describe("encodeJobId / decodeJobId", () => {
  it("round-trips every combination of boundary seq, store and idx", () => {
    let n = 0;
    for (const store of stores)
      for (const seq of seqs)
        for (const idx of idxs) {
          roundTrip({ store, seq, idx, rnd: rnds[n % rnds.length]!, timeMs: times[n % times.length]! });
          n++;
        }
    assert.equal(n, stores.length * seqs.length * idxs.length);
  });

  it("round-trips every boundary rnd and timeMs", () => {
    for (const rnd of rnds)
      for (const timeMs of times) roundTrip({ store: Store.Delay, seq: 2 ** 32, idx: 1023, rnd, timeMs });
  });

  it("round-trips 5000 pseudo-random addresses", () => {
    const r = prng(42);
    for (let k = 0; k < 5000; k++) {
      roundTrip({
        store: stores[Math.floor(r() * 3)]!,
        seq: 1 + Math.floor(r() * (2 ** 40 - 1)),
        idx: Math.floor(r() * 1024),
        rnd: Math.floor(r() * 2 ** 20),
        timeMs: Math.floor(r() * 2 ** 48),
      });
    }
  });

  it("encodes a known address to a known id", () => {
    // time 0x0195_39a4_0000, store 1, seq 2^32 + 5 (hi8 = 1, lo32 = 5), idx 3, rnd 0xabcde
    const id = encodeJobId({
      store: Store.Queue,
      seq: 2 ** 32 + 5,
      idx: 3,
      rnd: 0xabcde,
      timeMs: 0x019539a40000,
    });
    assert.equal(id, "019539a4-0000-7101-8000-0001403abcde");
    assert.deepEqual(decodeJobId(id), {
      store: Store.Queue,
      seq: 2 ** 32 + 5,
      idx: 3,
      rnd: 0xabcde,
      timeMs: 0x019539a40000,
    });
  });

  it("puts the top two bits of the low 32 sequence bits into the variant nibble", () => {
    const at = (seq: number) =>
      encodeJobId({ store: Store.Queue, seq, idx: 0, rnd: 0, timeMs: 0 }).charAt(19);
    assert.equal(at(1), "8");
    assert.equal(at(2 ** 30), "9");
    assert.equal(at(2 ** 31), "a");
    assert.equal(at(2 ** 32 - 1), "b");
    assert.equal(at(2 ** 32), "8");
  });

  it("gives different ids to different slots of one segment", () => {
    const ids = new Set<string>();
    for (let idx = 0; idx < MAX_SEGMENT_JOBS; idx++)
      ids.add(encodeJobId({ store: Store.Queue, seq: 77, idx, rnd: 0x12345, timeMs: 1_700_000_000_000 }));
    assert.equal(ids.size, MAX_SEGMENT_JOBS);
  });

  const badSeqs = [0, -1, 0.5, 1.5, 2 ** 40, 2 ** 40 + 1, Number.NaN, Infinity];
  for (const seq of badSeqs) {
    it(`rejects seq ${seq}`, () => {
      assert.throws(() => encodeJobId({ store: Store.Queue, seq, idx: 0, rnd: 0, timeMs: 0 }), RangeError);
    });
  }

  const badIdxs = [-1, 1024, 1025, 0.5, Number.NaN];
  for (const idx of badIdxs) {
    it(`rejects idx ${idx}`, () => {
      assert.throws(() => encodeJobId({ store: Store.Queue, seq: 1, idx, rnd: 0, timeMs: 0 }), RangeError);
    });
  }

  // BUG: timeMs is not range-checked; 2^48 yields a 13-digit time field ("10000000-0000-0710-..."),
  // a negative or fractional time yields garbage. Such ids fail uuidv7Pattern and decode to undefined.
  for (const timeMs of [2 ** 48, -1, 1.5]) {
    it(`rejects timeMs ${timeMs} instead of producing a malformed id`, () => {
      assert.throws(() => encodeJobId({ store: Store.Queue, seq: 1, idx: 0, rnd: 0, timeMs }), RangeError);
    });
  }

  const notOurs: Array<[string, string]> = [
    ["empty", ""],
    ["garbage", "not-a-uuid"],
    ["no dashes", "019539a400007100800000014003abcd"],
    ["uppercase", "019539A4-0000-7101-8000-00014003ABCD"],
    ["v4", "9b2f0c1e-5d6a-4b7c-8d9e-0f1a2b3c4d5e"],
    ["variant 0xxx", "019539a4-0000-7101-7000-00014003abcd"],
    ["variant 110x", "019539a4-0000-7101-c000-00014003abcd"],
    ["store 0", "019539a4-0000-7000-8000-000000000000"],
    ["store 0 with seq", "019539a4-0000-7001-8000-000040000000"],
    ["store 4", "019539a4-0000-7400-8000-000040000000"],
    ["store 15", "019539a4-0000-7f00-8000-000040000000"],
    ["store 1, seq 0", "019539a4-0000-7100-8000-000000000000"],
    ["trailing space", "019539a4-0000-7101-8000-00014003abcd "],
    ["too long", "019539a4-0000-7101-8000-00014003abcde"],
  ];
  for (const [name, id] of notOurs) {
    it(`decodeJobId returns undefined for ${name}`, () => {
      assert.equal(decodeJobId(id), undefined);
    });
  }

  it("decodes the smallest valid address", () => {
    assert.deepEqual(decodeJobId("00000000-0000-7100-8000-000040000000"), {
      store: Store.Queue,
      seq: 1,
      idx: 0,
      rnd: 0,
      timeMs: 0,
    });
  });
});

describe("uuidv7", () => {
  it("produces valid, unique ids", () => {
    const seen = new Set<string>();
    for (let k = 0; k < 10_000; k++) {
      const id = uuidv7();
      assert.match(id, uuidv7Pattern);
      seen.add(id);
    }
    assert.equal(seen.size, 10_000);
  });

  it("embeds the given time, so ids sort by their ms prefix", () => {
    const times = [0, 1, 255, 2 ** 40, 1_700_000_000_000, 1_700_000_000_001, 2 ** 48 - 1];
    const ids = times.map((t) => uuidv7(t));
    ids.forEach((id, k) => {
      assert.match(id, uuidv7Pattern);
      assert.equal(uuidv7Time(id), times[k]);
    });
    assert.deepEqual([...ids].sort(), ids);
  });

  it("defaults to the current time", () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const t = uuidv7Time(id);
    assert.ok(t >= before && t <= after, `${t} not in [${before}, ${after}]`);
  });

  it("random ids rarely decode to a segment address with seq 0 or store 0, but never throw", () => {
    for (let k = 0; k < 1000; k++) {
      const d = decodeJobId(uuidv7(1_700_000_000_000));
      if (d) {
        assert.ok(d.seq >= 1);
        assert.ok(([1, 2, 3] as number[]).includes(d.store));
      }
    }
  });
});

describe("uuidv7Time", () => {
  const cases: Array<[string, number]> = [
    ["00000000-0000-7000-8000-000000000000", 0],
    ["019539a4-0000-7101-8000-00014003abcd", 0x019539a40000],
    ["ffffffff-ffff-7fff-bfff-ffffffffffff", 2 ** 48 - 1],
  ];
  for (const [id, t] of cases) {
    it(`reads ${t} from ${id}`, () => {
      assert.equal(uuidv7Time(id), t);
    });
  }
});

describe("segmentRandom", () => {
  it("returns integers in [0, 2^20)", () => {
    for (let k = 0; k < 2000; k++) {
      const r = segmentRandom();
      assert.ok(Number.isInteger(r) && r >= 0 && r < 2 ** 20, String(r));
    }
  });
});

describe("derivedJobId", () => {
  it("is the same for the same (store, time, seed), a valid id of that store, and differs by seed", () => {
    const t = Date.UTC(2030, 0, 1, 6, 0, 0);
    const a = derivedJobId(Store.Fleet, t, "cron:disk.check:" + t);
    assert.equal(derivedJobId(Store.Fleet, t, "cron:disk.check:" + t), a);
    assert.match(a, uuidv7Pattern);
    assert.equal(decodeJobId(a)?.store, Store.Fleet);
    assert.equal(uuidv7Time(a), t);
    assert.notEqual(derivedJobId(Store.Fleet, t, "cron:other:" + t), a);
    for (let i = 0; i < 2000; i++) {
      const id = derivedJobId(Store.Fleet, t + i * 1000, `cron:x:${t + i * 1000}`);
      assert.equal(decodeJobId(id)?.store, Store.Fleet, id);
    }
  });
});
