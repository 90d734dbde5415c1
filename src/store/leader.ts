/**
 * Leader election through a KV lease: the holder renews `lease.<name>` with compare-and-set; anyone
 * may take it over once it has expired. Used for singleton tasks (the delay promoter, housekeeping)
 * when several API servers share one NATS.
 */
import type { KV } from "@nats-io/kv";

export interface LeaderOptions {
  kv: KV;
  name: string;
  holder: string;
  /** Lease length. @defaultValue 10000 */
  leaseMs?: number;
  onElected: () => void;
  onDemoted: () => void;
  onError?: (err: unknown) => void;
}

export interface Leadership {
  readonly isLeader: boolean;
  close(): Promise<void>;
}

interface Lease {
  holder: string;
  expiresAt: number;
}

export function startLeaderElection(o: LeaderOptions): Leadership {
  const leaseMs = o.leaseMs ?? 10_000;
  const key = `lease.${o.name}`;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let leader = false;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  const encode = () =>
    enc.encode(JSON.stringify({ holder: o.holder, expiresAt: Date.now() + leaseMs } satisfies Lease));

  async function tick(): Promise<void> {
    try {
      const e = await o.kv.get(key);
      let lease: Lease | undefined;
      if (e && e.operation === "PUT") {
        try {
          lease = JSON.parse(dec.decode(e.value)) as Lease;
        } catch {
          lease = undefined;
        }
      }
      if (!e || e.operation !== "PUT") {
        await o.kv.create(key, encode());
        setLeader(true);
      } else if (lease?.holder === o.holder || !lease || lease.expiresAt < Date.now()) {
        await o.kv.update(key, encode(), e.revision);
        setLeader(true);
      } else {
        setLeader(false);
      }
    } catch (err) {
      // Lost a compare-and-set race or NATS is unreachable: not the leader until proven otherwise.
      setLeader(false);
      o.onError?.(err);
    }
  }

  function setLeader(v: boolean): void {
    if (v === leader || closed) return;
    leader = v;
    if (v) o.onElected();
    else o.onDemoted();
  }

  const timer = setInterval(
    () => {
      running = running.then(tick);
    },
    Math.max(200, Math.floor(leaseMs / 3)),
  );
  running = running.then(tick);

  return {
    get isLeader() {
      return leader;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      if (leader) {
        leader = false;
        o.onDemoted();
        try {
          const e = await o.kv.get(key);
          if (e) await o.kv.update(key, enc.encode(JSON.stringify({ holder: "", expiresAt: 0 })), e.revision);
        } catch {
          // The lease runs out by itself.
        }
      }
    },
  };
}
