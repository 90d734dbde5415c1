/**
 * Test harness: a 3-node JetStream cluster on loopback (fixed free ports, so a killed node comes back
 * on the same ports and store dir), with the monitoring queries fault tests need: meta leader, peers
 * and whether a restarted node has caught up.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { jetstreamManager } from "@nats-io/jetstream";

import { connectNats } from "../../src/nats/connect.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { waitFor } from "./nats.js";

export interface ClusterNode {
  /** Server name: n0, n1, n2. */
  readonly name: string;
  readonly url: string;
  /** The running process (replaced by `restart`); undefined while killed. */
  readonly server: RunningNatsServer | undefined;
  /** SIGKILL: a crash, no clean shutdown. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and store dir. */
  restart(): Promise<void>;
  /** The node's `/jsz` monitoring document. */
  jsz(): Promise<Jsz>;
  /** Whether `/healthz` (streams and consumers current on this node) answers 200. */
  healthy(): Promise<boolean>;
}

export interface Jsz {
  meta_cluster?: {
    leader?: string;
    cluster_size?: number;
    replicas?: Array<{ name: string; current?: boolean; offline?: boolean }>;
  };
}

export interface TestCluster {
  readonly nodes: ClusterNode[];
  /** Client URLs of all nodes (for failover). */
  readonly urls: string[];
  /**
   * Waits until every node agrees on a meta leader that sees all peers current, and an R3 stream can
   * be placed (the leader learns that peers are online a moment after they are current: creating an
   * R3 stream in between fails with 10005 "no suitable peers for placement, peer offline").
   * Returns the meta leader's name.
   */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Ports the OS reports free now (bound to port 0, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function startTestCluster(clusterName = "c1"): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-cluster-"));
  const ports = await freePorts(6);
  const clientPorts = ports.slice(0, 3);
  const routePorts = ports.slice(3);
  const options = (i: number) => ({
    storeDir: join(dir, `n${i}`),
    port: clientPorts[i]!,
    name: `n${i}`,
    monitorPort: 0,
    extraConfig: [
      "cluster {",
      `  name: ${clusterName}`,
      `  listen: "127.0.0.1:${routePorts[i]!}"`,
      // Only the other two: with its own route listed as well, a node sometimes stayed out of the
      // JetStream meta group (cluster_size 2) when all three started at once.
      `  routes: [${routePorts
        .filter((_, j) => j !== i)
        .map((p) => `"nats://127.0.0.1:${p}"`)
        .join(", ")}]`,
      "}",
    ].join("\n"),
  });
  const running: Array<RunningNatsServer | undefined> = await Promise.all(
    [0, 1, 2].map((i) => startNatsServer(options(i))),
  );
  const monitor = async (i: number, path: string): Promise<Response> => {
    const s = running[i];
    if (!s?.monitorUrl) throw new Error(`n${i} is not running`);
    return fetch(s.monitorUrl + path, { signal: AbortSignal.timeout(2000) });
  };
  const nodes: ClusterNode[] = [0, 1, 2].map((i) => ({
    name: `n${i}`,
    url: `nats://127.0.0.1:${clientPorts[i]!}`,
    get server() {
      return running[i];
    },
    async kill() {
      const s = running[i];
      if (!s) return;
      running[i] = undefined;
      s.kill();
      await s.exited;
    },
    async restart() {
      if (running[i]) throw new Error(`n${i} is running`);
      running[i] = await startNatsServer(options(i));
    },
    async jsz() {
      return (await (await monitor(i, "/jsz")).json()) as Jsz;
    },
    async healthy() {
      return (await monitor(i, "/healthz")).ok;
    },
  }));

  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async waitForMetaLeader(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const leader = await waitFor(
        async () => {
          const views = await Promise.all(nodes.filter((n) => n.server).map((n) => n.jsz()));
          const leader = views[0]?.meta_cluster?.leader;
          if (!leader || views.some((v) => v.meta_cluster?.leader !== leader)) return undefined;
          const fromLeader = await nodes.find((n) => n.name === leader)?.jsz();
          const peers = fromLeader?.meta_cluster?.replicas ?? [];
          const allCurrent = peers.length === nodes.length - 1 && peers.every((p) => p.current && !p.offline);
          return allCurrent ? leader : undefined;
        },
        { timeoutMs, intervalMs: 100, what: "a JetStream meta leader with every peer current" },
      );
      const nc = await connectNats({ servers: nodes.map((n) => n.url), name: "test-cluster-probe" });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        const name = `PLACEMENT_PROBE_${process.pid}`;
        await waitFor(
          async () => {
            await jsm.streams.add({ name, subjects: [`placement.probe.${process.pid}`], num_replicas: 3 });
            return true;
          },
          {
            timeoutMs: Math.max(1000, deadline - Date.now()),
            intervalMs: 100,
            what: "an R3 stream placement",
          },
        );
        await jsm.streams.delete(name);
      } finally {
        await nc.close();
      }
      return leader;
    },
    async stop() {
      await Promise.all(running.map(async (s) => s?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
