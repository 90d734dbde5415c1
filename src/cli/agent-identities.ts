/**
 * `jetjob agent pending|identities|accept|reject|revoke|forget-identity|enroll-token`: the operator's
 * side of agent enrollment (docs/security.md), through the same functions as the HTTP API
 * (access/enrollment.ts). These talk to NATS with the full-rights login (on a
 * `jetjob start` machine found in its data dir, else `--nats` with `--nats-user`/`--nats-pass-file`),
 * and change the identities bucket that every jetjob server's auth callout reads: an accepted agent
 * connects at its next attempt; a revoked one is disconnected at once.
 */
import type { Command } from "commander";

import {
  acceptAgent,
  createEnrollToken,
  forgetAgent,
  listIdentities,
  rejectAgent,
  revokeAgent,
} from "../access/enrollment.js";
import type { IdentityStore, IdentityView } from "../access/identities.js";
import { IdentityState, identityName, identityStore, openIdentities } from "../access/identities.js";
import { ValidationError } from "../core/errors.js";
import { connectNats } from "../nats/connect.js";
import { resolveTopology } from "../store/infra/topology.js";
import type { Runner } from "./client-flags.js";
import { durationFlag } from "./client-flags.js";
import { dataDirOf, readEndpoints } from "./endpoints.js";
import type { NatsFlags } from "./nats-flags.js";
import { addNatsFlags, natsConnectOptions } from "./nats-flags.js";
import { printJson, printTable, shortTime } from "./output.js";

interface IdentityFlags extends NatsFlags {
  nats?: string;
  dataDir?: string;
  json?: boolean;
}

async function withIdentities<T>(f: IdentityFlags, fn: (s: IdentityStore) => Promise<T>): Promise<T> {
  const dataDir = dataDirOf(f.dataDir);
  const servers = f.nats ?? (process.env.JETJOB_NATS_URL || undefined) ?? readEndpoints(dataDir)?.nats;
  if (!servers) {
    throw new ValidationError("--nats is required (or JETJOB_NATS_URL, or a `jetjob start` data dir)");
  }
  const prev = process.env.JETJOB_DATA_DIR;
  if (f.dataDir !== undefined) process.env.JETJOB_DATA_DIR = dataDir;
  try {
    const nc = await connectNats({ servers, name: "jetjob-cli", ...natsConnectOptions(f) });
    try {
      return await fn(identityStore(await openIdentities(nc, resolveTopology())));
    } finally {
      await nc.close();
    }
  } finally {
    if (f.dataDir !== undefined) {
      if (prev === undefined) delete process.env.JETJOB_DATA_DIR;
      else process.env.JETJOB_DATA_DIR = prev;
    }
  }
}

function printIdentities(list: IdentityView[], json: boolean | undefined): void {
  if (json) return printJson(list);
  // Agents by hostname, worker identities as `worker:<name>` (the name accept/revoke take).
  printTable(
    ["NAME", "KIND", "STATE", "QUEUES", "REQUESTED", "FROM", "DECIDED BY"],
    list.map((i) => [
      identityName(i),
      i.kind ?? "agent",
      i.state,
      (i.queues ?? []).join(",") || "-",
      shortTime(i.requested_at),
      i.from ?? "-",
      i.decided_by ?? "-",
    ]),
  );
}

/** Who decides, as identities record it (`decided_by`). */
const operator = () => `cli:${process.env.USER ?? "operator"}`;

/** The subcommand's flags with those given before it (`jetjob agent --nats URL pending`). */
const flagsOf = (cmd: Command) => cmd.optsWithGlobals<IdentityFlags>();

const common = (c: Command) =>
  addNatsFlags(
    c
      .option("--nats <url>", "NATS URL(s) (default: $JETJOB_NATS_URL, else the data dir's endpoints.json)")
      .option("--data-dir <dir>", "data dir of `jetjob start` (NATS URL and login)")
      .option("--json", "JSON output"),
  );

export function registerAgentIdentityCommands(agent: Command, run: Runner): void {
  common(agent.command("pending").description("agents that asked to join and wait for an operator")).action(
    (_f: IdentityFlags, cmd: Command) =>
      run(async () => {
        const f = flagsOf(cmd);
        const list = await withIdentities(f, (s) => listIdentities(s, { state: IdentityState.Pending }));
        printIdentities(list, f.json);
      }),
  );
  common(agent.command("identities").description("every agent identity and its state")).action(
    (_f: IdentityFlags, cmd: Command) =>
      run(async () =>
        printIdentities(await withIdentities(flagsOf(cmd), (s) => listIdentities(s)), flagsOf(cmd).json),
      ),
  );
  const decide = (name: "accept" | "reject" | "revoke", op: typeof acceptAgent, what: string) => {
    const c = common(agent.command(`${name} <hostname>`).description(what));
    if (name === "accept") {
      c.option(
        "--queue <name>",
        "grant this queue (repeatable): needed for worker:<name>; an agent's --queue worker",
        (v: string, prev: string[]) => [...prev, v],
        [] as string[],
      );
    }
    return c.action((host: string, _f: IdentityFlags, cmd: Command) =>
      run(async () => {
        const f = flagsOf(cmd) as IdentityFlags & { queue?: string[] };
        const queues = f.queue ?? [];
        const v = await withIdentities(f, (s) =>
          op(s, host, { by: operator(), ...(queues.length > 0 ? { queues } : {}) }),
        );
        if (f.json) return printJson(v);
        process.stdout.write(
          `${identityName(v)}: ${v.state}${v.queues ? ` (queues ${v.queues.join(", ")})` : ""}\n`,
        );
      }),
    );
  };
  decide(
    "accept",
    acceptAgent,
    "let a pending agent (hostname) or queue worker (worker:<name>, with --queue) join with its own NATS identity",
  );
  decide("reject", rejectAgent, "refuse a pending agent");
  decide("revoke", revokeAgent, "cut an agent off: its connections are closed and it cannot reconnect");
  common(
    agent
      .command("forget-identity <hostname>")
      .description("remove an identity (the host may ask to join again)"),
  ).action((host: string, _f: IdentityFlags, cmd: Command) =>
    run(async () => {
      const f = flagsOf(cmd);
      const v = await withIdentities(f, (s) => forgetAgent(s, host));
      if (f.json) return printJson(v);
      process.stdout.write(`${v.name}: forgotten\n`);
    }),
  );
  common(
    agent
      .command("enroll-token")
      .description("a one-time token: `jetjob agent --enroll --enroll-token T` joins without waiting")
      .option("--expires <duration>", "lifetime, e.g. 1h, 30m", "1h"),
  ).action((_f: IdentityFlags, cmd: Command) =>
    run(async () => {
      const f = flagsOf(cmd) as IdentityFlags & { expires: string };
      const expiresInMs = durationFlag("--expires", f.expires);
      const t = await withIdentities(f, (s) => createEnrollToken(s, { by: operator(), expiresInMs }));
      if (f.json) return printJson(t);
      process.stdout.write(t.token + "\n");
    }),
  );
}
