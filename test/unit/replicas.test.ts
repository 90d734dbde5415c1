import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { chooseReplicas } from "../../src/store/infra/replicas.js";
import { resolveTopology } from "../../src/store/infra/topology.js";

const three = ["127.0.0.1:4222", "127.0.0.1:4223", "127.0.0.1:4224"];

describe("chooseReplicas", () => {
  it("keeps what the existing streams have", () => {
    assert.equal(chooseReplicas({ existing: 1, cluster: "c1", connectUrls: three }).replicas, 1);
    assert.equal(chooseReplicas({ existing: 3 }).replicas, 3);
  });

  it("uses 3 on a cluster of three or more servers", () => {
    assert.equal(chooseReplicas({ cluster: "c1", connectUrls: three }).replicas, 3);
    assert.equal(chooseReplicas({ cluster: "c1", connectUrls: [...three, "127.0.0.1:4225"] }).replicas, 3);
  });

  it("uses 1 on a single server, a small cluster, or one that does not advertise", () => {
    assert.equal(chooseReplicas({}).replicas, 1);
    assert.equal(chooseReplicas({ connectUrls: three }).replicas, 1, "no cluster name: not clustered");
    assert.equal(chooseReplicas({ cluster: "c1", connectUrls: three.slice(0, 2) }).replicas, 1);
    assert.equal(
      chooseReplicas({ cluster: "c1", connectUrls: [three[0]!, three[0]!, three[0]!] }).replicas,
      1,
    );
    assert.equal(chooseReplicas({ cluster: "c1" }).replicas, 1);
  });

  it("says why", () => {
    assert.match(chooseReplicas({ cluster: "c1", connectUrls: three }).reason, /c1 has 3 servers/);
    assert.match(chooseReplicas({}).reason, /not part of a cluster/);
  });
});

describe("resolveTopology replicas", () => {
  it("is undefined unless asked for (existing resources keep theirs), and accepts 1 to 5", () => {
    assert.equal(resolveTopology().replicas, undefined);
    assert.equal(resolveTopology({ replicas: 3 }).replicas, 3);
    for (const bad of [0, 6, 2.5, Number.NaN])
      assert.throws(() => resolveTopology({ replicas: bad }), RangeError);
  });
});
