import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ErrorCode, ValidationError } from "../../src/core/errors.js";
import type { TargetCandidate } from "../../src/fleet/target/index.js";
import {
  formatTarget,
  LABEL_KEY,
  LABEL_VALUE,
  labelMatches,
  matchesTarget,
  parseLabel,
  parseTarget,
  resolveTarget,
  TargetSyntaxError,
  targetPicksOne,
  validateLabel,
} from "../../src/fleet/target/index.js";

const fleet: TargetCandidate[] = [
  {
    hostname: "web-01",
    labels: { group: "web.dev.us-east", role: "web", env: "dev" },
    facts: {
      os: { name: "debian", version: "12" },
      cpu: { cores: 4 },
      kernel: "6.1.0",
      roles: ["edge", "cache"],
    },
    running: 3,
  },
  {
    hostname: "web-02",
    labels: { group: "web.dev.eu", role: "web", env: "dev" },
    facts: { "os.name": "Debian", "os.version": "9", "cpu.cores": 8, kernel: "5.10.0" },
    running: 1,
  },
  {
    hostname: "web-03",
    labels: { group: "web.prod", role: "web", env: "prod" },
    facts: { os: { name: "ubuntu", version: "22.04" }, cpu: { cores: "2" } },
    running: 5,
  },
  {
    hostname: "db-01",
    labels: { group: "db", role: "db", env: "prod" },
    facts: { os: { name: "ubuntu", "release.major": 22 }, cpu: { cores: 16 }, virtual: false },
    running: 2,
  },
  {
    hostname: "db-02",
    labels: { group: "db.replica", role: "db", env: "prod" },
    facts: { os: { name: "ubuntu" }, cpu: { cores: 32 }, virtual: true },
    running: 0,
  },
  {
    hostname: "dev-box",
    labels: { group: "web.development", role: "dev" },
    facts: { os: { name: "arch" }, kernel: "6.9.1" },
    running: 4,
  },
  {
    hostname: "Web-10.Example.com",
    labels: { group: "web", role: "web", env: "staging" },
    facts: { os: { name: "DEBIAN" }, cpu: { cores: "10" } },
    running: 6,
  },
  { hostname: "build-7", labels: {}, facts: {} },
];

const ALL = fleet.map((c) => c.hostname);
const sorted = (names: readonly string[]): string[] => [...names].sort();
const select = (target: string): string[] =>
  sorted(resolveTarget(parseTarget(target), fleet).map((c) => c.hostname));

/** [target, the hostnames it selects]. */
const selections: [string, string[]][] = [
  ["all", ALL],
  ["ALL", ALL],
  ["host:web-01", ["web-01"]],
  ["host:WEB-01", ["web-01"]],
  ["HOST:db-01", ["db-01"]],
  ["web-02", ["web-02"]],
  ["web-10.example.com", ["Web-10.Example.com"]],
  ["nope-99", []],
  ["group:web.dev", ["web-01", "web-02"]],
  ["group:web", ["web-01", "web-02", "web-03", "dev-box", "Web-10.Example.com"]],
  ["group:web.development", ["dev-box"]],
  ["group:web.dev.us-east", ["web-01"]],
  ["group:web.dev.us", []],
  ["group:db", ["db-01", "db-02"]],
  ["group:db.replica", ["db-02"]],
  ["role:Web", []],
  ["missing:x", []],
  ["role:web,env:prod", ["web-03"]],
  ["role:web,group:web.dev", ["web-01", "web-02"]],
  ["group:web.dev,group:web.dev.eu", ["web-02"]],
  ["web-*", ["web-01", "web-02", "web-03", "Web-10.Example.com"]],
  ["web-0?", ["web-01", "web-02", "web-03"]],
  ["[wd]b-*", ["db-01", "db-02"]],
  ["[!w]*", ["build-7", "db-01", "db-02", "dev-box"]],
  ["*.EXAMPLE.com", ["Web-10.Example.com"]],
  ["d*-0[2-9]", ["db-02"]],
  ["web-0", []],
  ["E@^db-\\d+$", ["db-01", "db-02"]],
  ["E@-0", ["web-01", "web-02", "web-03", "db-01", "db-02"]],
  ["E@^(web|db)-0[12]$", ["web-01", "web-02", "db-01", "db-02"]],
  ["E@EXAMPLE", ["Web-10.Example.com"]],
  ["E@[(]", []],
  ["G@os.name=debian", ["web-01", "web-02", "Web-10.Example.com"]],
  ["G@os.name:ubuntu", ["web-03", "db-01", "db-02"]],
  ["G@os.name!=debian", ["web-03", "db-01", "db-02", "dev-box"]],
  ["G@cpu.cores>=8", ["web-02", "db-01", "db-02", "Web-10.Example.com"]],
  ["G@cpu.cores:>=8", ["web-02", "db-01", "db-02", "Web-10.Example.com"]],
  ["G@cpu.cores>8", ["db-01", "db-02", "Web-10.Example.com"]],
  ["G@cpu.cores<4", ["web-03"]],
  ["G@cpu.cores<=4", ["web-01", "web-03"]],
  ["G@cpu.cores=4", ["web-01"]],
  ["G@os.version>10", ["web-01", "web-03"]],
  ["G@kernel>=6", ["web-01", "dev-box"]],
  ["G@kernel<6.2", ["web-01", "web-02"]],
  ["G@os.release.major>=22", ["db-01"]],
  ["G@virtual=false", ["db-01"]],
  ["G@virtual!=true", ["db-01"]],
  ["G@nosuch!=x", []],
  ["G@os=debian", []],
  ["G@roles=CACHE", ["web-01"]],
  ["G@roles!=edge", []],
  ["L@web-01,db-02,nope", ["web-01", "db-02"]],
  ["L@WEB-03", ["web-03"]],
  ["not role:web", ["db-01", "db-02", "dev-box", "build-7"]],
  ["web-* and G@os.name=debian and not E@\\.example\\.", ["web-01", "web-02"]],
  [
    "(group:web or group:db) and not host:web-03",
    ["web-01", "web-02", "dev-box", "Web-10.Example.com", "db-01", "db-02"],
  ],
  ["env:dev or role:db and G@cpu.cores>20", ["web-01", "web-02", "db-02"]],
  ["(env:dev or role:db) and G@cpu.cores>20", ["db-02"]],
  ["not env:prod and role:web", ["web-01", "web-02", "Web-10.Example.com"]],
  ["not (env:prod and role:web)", ALL.filter((h) => h !== "web-03")],
  ["NOT role:web AND NOT role:db", ["dev-box", "build-7"]],
  ["not not host:db-01", ["db-01"]],
  ["(E@^(web|db)-01$ or L@build-7)", ["web-01", "db-01", "build-7"]],
  ["all and not G@os.name=ubuntu", ["web-01", "web-02", "dev-box", "Web-10.Example.com", "build-7"]],
  ["web-01 Or (web-02 or db-01)", ["web-01", "web-02", "db-01"]],
  ["role:web,env:dev and G@cpu.cores>4", ["web-02"]],
  ["E@\\)$ or(db-01)", ["db-01"]],
];

describe("target selection", () => {
  for (const [target, expected] of selections) {
    it(`${target} selects ${expected.length} agents`, () =>
      assert.deepEqual(select(target), sorted(expected)));
  }
});

describe("formatTarget", () => {
  for (const [target] of selections) {
    it(`round-trips ${target}`, () => {
      const expr = parseTarget(target);
      assert.deepEqual(parseTarget(formatTarget(expr)), expr);
      assert.equal(formatTarget(parseTarget(formatTarget(expr))), formatTarget(expr));
    });
  }
  for (const [target, canonical] of [
    ["ALL", "all"],
    ["HOST:db-01", "host:db-01"],
    ["G@cpu.cores:>=8", "G@cpu.cores>=8"],
    ["G@os.name:ubuntu", "G@os.name=ubuntu"],
    ["NOT role:web AND NOT role:db", "not role:web and not role:db"],
    ["(group:web or group:db) and not host:web-03", "(group:web or group:db) and not host:web-03"],
    ["env:dev or (role:db and G@cpu.cores>20)", "env:dev or role:db and G@cpu.cores>20"],
    ["a and (b and c)", "host:a and (host:b and host:c)"],
    ["not (a or b)", "not (host:a or host:b)"],
    ["(role:web:ANY)", "role:web:any"],
    ["( E@^(a|b)$ )", "E@^(a|b)$"],
  ] as const) {
    it(`prints ${target} as ${canonical}`, () => assert.equal(formatTarget(parseTarget(target)), canonical));
  }
});

describe("parse tree", () => {
  it("binds not tighter than and, and tighter than or", () => {
    const host = (name: string) => ({ kind: "host", name }) as const;
    assert.deepEqual(parseTarget("a or not b and c"), {
      kind: "or",
      items: [host("a"), { kind: "and", items: [{ kind: "not", item: host("b") }, host("c")] }],
    });
    assert.deepEqual(parseTarget("a and (b and c)"), {
      kind: "and",
      items: [host("a"), { kind: "and", items: [host("b"), host("c")] }],
    });
  });
  it("reads labels, facts, lists and pick-one forms", () => {
    assert.deepEqual(parseTarget("role:web,env:prod:any"), {
      kind: "labels",
      labels: [
        { key: "role", value: "web" },
        { key: "env", value: "prod" },
      ],
      pick: "one",
    });
    assert.deepEqual(parseTarget("G@a.b:<=3"), { kind: "fact", path: "a.b", op: "<=", value: "3" });
    assert.deepEqual(parseTarget("G@t=12:30"), { kind: "fact", path: "t", op: "=", value: "12:30" });
    assert.deepEqual(parseTarget("L@a,b"), { kind: "list", hosts: ["a", "b"] });
    assert.deepEqual(parseTarget("role:any"), { kind: "labels", labels: [{ key: "role", value: "any" }] });
  });
});

describe("pick-one targets", () => {
  it("knows which targets pick one", () => {
    for (const [target, one] of [
      ["any", true],
      ["role:web:any", true],
      ["role:any", false],
      ["all", false],
      ["web-*", false],
    ] as const) {
      assert.equal(targetPicksOne(parseTarget(target)), one, target);
    }
  });
  it("any matches every candidate but resolves to one of the least loaded", () => {
    const any = parseTarget("any");
    assert.ok(fleet.every((c) => matchesTarget(any, c)));
    assert.deepEqual(names(resolveTarget(any, fleet, { random: () => 0 })), ["db-02"]);
    assert.deepEqual(names(resolveTarget(any, fleet, { random: () => 0.99 })), ["build-7"]);
    const picked = names(resolveTarget(any, fleet));
    assert.equal(picked.length, 1);
    assert.ok(["db-02", "build-7"].includes(picked[0]!));
  });
  for (const [target, expected] of [
    ["role:web:any", ["web-02"]],
    ["group:db:any", ["db-02"]],
    ["(role:web,env:dev:any)", ["web-02"]],
    ["group:web.prod:any", ["web-03"]],
    ["role:nope:any", []],
  ] as const) {
    it(`${target} resolves to ${expected.join(",") || "nothing"}`, () => {
      for (let i = 0; i < 5; i++)
        assert.deepEqual(names(resolveTarget(parseTarget(target), fleet)), expected);
    });
  }
  it("breaks ties with options.random", () => {
    const tied = ["a", "b", "c"].map((hostname) => ({
      hostname,
      labels: { role: "x" },
      facts: {},
      running: 1,
    }));
    const pick = (r: number) => names(resolveTarget(parseTarget("role:x:any"), tied, { random: () => r }));
    assert.deepEqual(
      [pick(0), pick(0.5), pick(0.999), pick(1), pick(Number.NaN)],
      [["a"], ["b"], ["c"], ["c"], ["a"]],
    );
  });
});

/** [target, error position, message pattern]. */
const bad: [string, number, RegExp][] = [
  ["", 0, /empty/],
  ["   ", 0, /empty/],
  ["(role:web", 0, /unclosed '\('/],
  ["(a or (b)", 0, /unclosed/],
  ["role:web)", 8, /unexpected '\)'/],
  ["web-01 )", 7, /unexpected '\)'/],
  ["role:web and", 12, /expected a term after 'and'/],
  ["role:web or", 11, /after 'or'/],
  ["and role:web", 0, /expected a term, found 'and'/],
  ["not", 3, /after 'not'/],
  ["a b", 2, /expected 'and', 'or' or the end/],
  ["(a b)", 3, /expected 'and', 'or' or '\)'/],
  ["()", 1, /expected a term after '\('/],
  ["X@foo", 0, /unknown prefix 'X@'/],
  ["host:web-01 and e@x", 16, /unknown prefix 'e@'/],
  ["rol!e:web", 3, /bad character '!' in label key/],
  ["role:we$b", 7, /bad character '\$' in label value/],
  ["role:web..dev", 9, /empty segment/],
  ["role:.web", 5, /empty segment/],
  ["role:web.", 8, /empty segment/],
  [":web", 0, /label key/],
  ["role:", 5, /label value/],
  ["role:web,,env:prod", 9, /expected a label after ','/],
  ["role:web,", 9, /expected a label after ','/],
  ["role:web,prod", 9, /key:value/],
  ["role:web:foo", 8, /bad character ':'/],
  ["role:web:any,env:prod", 8, /':any' must end/],
  ["host:", 5, /expected a hostname/],
  ["host:a,role:web", 6, /bad character ','/],
  ["G@cores=>4", 7, /bad fact operator '=>'/],
  ["G@cores!4", 7, /bad fact operator '!'/],
  ["G@cores~4", 7, /bad fact operator '~'/],
  ["G@cores", 7, /expected an operator/],
  ["G@cores>=", 9, /expected a value after '>='/],
  ["G@=4", 2, /fact name/],
  ["G@a..b=1", 4, /empty segment/],
  ["L@", 2, /empty host list/],
  ["L@a,,b", 4, /hostname in the list/],
  ["L@a,b!", 5, /bad character '!'/],
  ["E@", 2, /regular expression/],
  ["E@(", 2, /invalid regular expression/],
  ["all and E@[a", 10, /invalid regular expression/],
  ["role:web:any and env:prod", 0, /whole target/],
  ["not role:web:any", 4, /whole target/],
  ["any or all", 0, /whole target/],
  ["(any) and all", 1, /whole target/],
  ["web-[0-9", 4, /unclosed '\['/],
  ["web-[]", 4, /empty character class/],
  ["web-]", 4, /bad character '\]'/],
  ["web_01!", 6, /bad character '!' in hostname/],
  ["[z-a]*", 0, /invalid character class/],
  ["x".repeat(1025), 1024, /longer than 1024/],
];

describe("bad targets", () => {
  for (const [target, position, pattern] of bad) {
    it(`rejects ${JSON.stringify(target.slice(0, 40))} at ${position}`, () => {
      assert.throws(
        () => parseTarget(target),
        (err: unknown) => {
          assert.ok(err instanceof TargetSyntaxError);
          assert.ok(err instanceof ValidationError);
          assert.equal(err.code, ErrorCode.InvalidRequest);
          assert.equal(err.position, position);
          assert.deepEqual(err.details, { target: target.slice(0, 1024), position });
          assert.ok(err.message.startsWith(`Bad target at position ${position}: `), err.message);
          assert.match(err.message, pattern);
          return true;
        },
      );
    });
  }
  it("accepts exactly 1024 characters", () => assert.equal(parseTarget("x".repeat(1024)).kind, "host"));
});

describe("labels", () => {
  it("parses key:value and reports bad characters by position", () => {
    assert.deepEqual(parseLabel("group:web.dev"), { key: "group", value: "web.dev" });
    for (const [text, position] of [
      ["group", 5],
      ["gr*up:x", 2],
      ["a:b:c", 3],
      ["host:x", 0],
      ["a:", 2],
    ] as const) {
      assert.throws(
        () => parseLabel(text),
        (err: unknown) => err instanceof TargetSyntaxError && err.position === position,
      );
    }
  });
  it("validates labels agents carry", () => {
    assert.equal(validateLabel("role", "web.dev-1_a"), undefined);
    for (const [key, value] of [
      ["ro le", "web"],
      ["role", "web..x"],
      ["host", "x"],
      ["role", ""],
      ["", "x"],
      ["k", "a".repeat(257)],
    ]) {
      assert.equal(typeof validateLabel(key!, value!), "string", `${key}:${value}`);
    }
    assert.ok(LABEL_KEY.test("env_1-a") && !LABEL_KEY.test("a.b"));
    assert.ok(LABEL_VALUE.test("web.dev.us-east") && !LABEL_VALUE.test("web.") && !LABEL_VALUE.test(".web"));
  });
  for (const [value, wanted, expected] of [
    ["web.dev", "web.dev", true],
    ["web.dev.us-east", "web.dev", true],
    ["web.development", "web.dev", false],
    ["web", "web.dev", false],
    ["web.dev", "web", true],
    [undefined, "web", false],
  ] as const) {
    it(`labelMatches(${value}, ${wanted}) is ${expected}`, () =>
      assert.equal(labelMatches(value, wanted), expected));
  }
  it("ignores inherited properties", () => {
    assert.equal(matchesTarget(parseTarget("constructor:x"), fleet[7]!), false);
    assert.equal(matchesTarget(parseTarget("G@constructor=x"), fleet[7]!), false);
  });
});

function names(cs: readonly TargetCandidate[]): string[] {
  return cs.map((c) => c.hostname);
}
