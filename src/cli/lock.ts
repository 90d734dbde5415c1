/**
 * `jetjob lock acquire|renew|release|list` (user locks) and `jetjob keys` (exclusive keys: who holds
 * each, how many wait).
 */
import type { Command } from "commander";

import { addClientFlags, clientFor, durationFlag } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { color, printFields, printJson, printTable, shortTime, stateColor } from "./output.js";

interface LockFlags extends ClientFlags {
  ttl?: string;
  wait?: string;
  owner?: string;
  lockToken?: string;
}

function lockToken(f: LockFlags): string {
  if (f.lockToken === undefined) throw new Error("unreachable: --lock-token is required");
  return f.lockToken;
}

export function registerLockCommands(program: Command, run: Runner): void {
  const lock = program.command("lock").description("distributed locks: acquire, renew, release, list");

  addClientFlags(
    lock
      .command("acquire")
      .description("take a lock; prints the token that renews and releases it")
      .argument("<name>", "lock name")
      .option("--ttl <duration>", "lease: 30s, 5m, ms or ISO (default 30s)")
      .option("--wait <duration>", "wait this long for the lock if it is taken (default: fail at once)")
      .option("--owner <text>", "shown to others in `jetjob lock list`"),
  ).action((name: string, f: LockFlags) =>
    run(async () => {
      const handle = await clientFor(f).locks.acquire(name, {
        ...(f.ttl === undefined ? {} : { ttlMs: durationFlag("--ttl", f.ttl) }),
        ...(f.wait === undefined ? {} : { waitMs: durationFlag("--wait", f.wait) }),
        ...(f.owner === undefined ? {} : { owner: f.owner }),
      });
      const view = {
        name: handle.name,
        token: handle.token,
        fencing_token: handle.fencingToken,
        expires_at: handle.expiresAt.toISOString(),
      };
      if (f.json) return printJson(view);
      printFields([
        ["name", view.name],
        ["token", view.token],
        ["fencing token", view.fencing_token],
        ["expires", view.expires_at],
      ]);
      process.stdout.write(
        color.dim(`release with: jetjob lock release ${name} --lock-token ${view.token}`) + "\n",
      );
    }, f.json),
  );

  addClientFlags(
    lock
      .command("renew")
      .description("extend a lock you hold")
      .argument("<name>", "lock name")
      .requiredOption("--lock-token <token>", "the token `lock acquire` printed")
      .option("--ttl <duration>", "new lease from now (default 30s)"),
  ).action((name: string, f: LockFlags) =>
    run(async () => {
      const c = clientFor(f);
      const ttlMs = f.ttl === undefined ? undefined : durationFlag("--ttl", f.ttl);
      const r = await c.locks.renew(name, lockToken(f), ttlMs);
      if (f.json) return printJson(r);
      process.stdout.write(`lock ${name} now expires at ${r.expires_at}\n`);
    }, f.json),
  );

  addClientFlags(
    lock
      .command("release")
      .description("release a lock you hold")
      .argument("<name>", "lock name")
      .requiredOption("--lock-token <token>", "the token `lock acquire` printed"),
  ).action((name: string, f: LockFlags) =>
    run(async () => {
      const r = await clientFor(f).locks.release(name, lockToken(f));
      if (f.json) return printJson(r);
      process.stdout.write(`lock ${name} released\n`);
    }, f.json),
  );

  addClientFlags(lock.command("list").description("locks held now")).action((f: ClientFlags) =>
    run(async () => {
      const locks = await clientFor(f).locks.list();
      if (f.json) return printJson(locks);
      if (locks.length === 0) {
        process.stdout.write("no locks held\n");
        return;
      }
      printTable(
        ["NAME", "OWNER", "FENCING", "ACQUIRED", "EXPIRES"],
        locks.map((l) => [
          l.name,
          l.owner ?? "-",
          String(l.fencing_token),
          shortTime(l.acquired_at),
          shortTime(l.expires_at),
        ]),
      );
    }, f.json),
  );

  addClientFlags(
    program
      .command("keys")
      .description("exclusive keys that are held or have waiting jobs: holder job, worker, jobs waiting")
      .option("-q, --queue <queue>", "only keys of this queue's jobs"),
  ).action((f: ClientFlags & { queue?: string }) =>
    run(async () => {
      const keys = await clientFor(f).exclusiveKeys(f.queue === undefined ? {} : { queue: f.queue });
      if (f.json) return printJson(keys);
      if (keys.length === 0) {
        process.stdout.write("no exclusive key is held or waited for\n");
        return;
      }
      printTable(
        ["KEY", "HOLDER JOB", "STATE", "WORKER", "SINCE", "WAITING"],
        keys.map((k) => [
          k.key,
          k.holder?.job_id ?? "-",
          k.holder?.state ? stateColor(k.holder.state) : "-",
          k.holder?.worker_id ?? "-",
          shortTime(k.holder?.since),
          `${k.waiting}${k.waiting_capped ? "+" : ""}`,
        ]),
      );
    }, f.json),
  );
}
