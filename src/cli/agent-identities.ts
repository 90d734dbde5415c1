/**
 * `jetjob agent pending|list-identities|accept|reject|revoke|forget|enroll-token`: the operator's side
 * of agent enrollment (docs/security.md). These talk to NATS with the full-rights login (on a
 * `jetjob start` machine found in its data dir, else `--nats` with `--nats-user`/`--nats-pass-file`),
 * and change the identities bucket that every jetjob server's auth callout reads: an accepted agent
 * connects at its next attempt; a revoked one is disconnected at once.
 */
import type { Command } from "commander";

import type { IdentityView } from "../access/identities.js";
import { IdentityState, identityStore, openIdentities } from "../access/identities.js";
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

async function withIdentities<T>(
  f: IdentityFlags,
  fn: (s: ReturnType<typeof identityStore>) => Promise<T>,
): Promise<T> {
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
  printTable(
    ["HOSTNAME", "STATE", "REQUESTED", "FROM", "DECIDED BY"],
    list.map((i) => [i.hostname, i.state, shortTime(i.requested_at), i.from ?? "-", i.decided_by ?? "-"]),
  );
}

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
        const list = await withIdentities(f, (s) => s.list());
        printIdentities(
          list.filter((i) => i.state === IdentityState.Pending),
          f.json,
        );
      }),
  );
  common(agent.command("identities").description("every agent identity and its state")).action(
    (_f: IdentityFlags, cmd: Command) =>
      run(async () =>
        printIdentities(await withIdentities(flagsOf(cmd), (s) => s.list()), flagsOf(cmd).json),
      ),
  );
  const decide = (
    name: "accept" | "reject" | "revoke",
    state: "accepted" | "rejected" | "revoked",
    what: string,
  ) =>
    common(agent.command(`${name} <hostname>`).description(what)).action(
      (host: string, _f: IdentityFlags, cmd: Command) =>
        run(async () => {
          const f = flagsOf(cmd);
          const v = await withIdentities(f, (s) =>
            s.decide(host, state, `cli:${process.env.USER ?? "operator"}`),
          );
          if (f.json) return printJson(v);
          process.stdout.write(`${v.hostname}: ${v.state}\n`);
        }),
    );
  decide("accept", "accepted", "let a pending agent join with its own NATS identity");
  decide("reject", "rejected", "refuse a pending agent");
  decide("revoke", "revoked", "cut an agent off: its connections are closed and it cannot reconnect");
  common(
    agent
      .command("forget-identity <hostname>")
      .description("remove an identity (the host may ask to join again)"),
  ).action((host: string, _f: IdentityFlags, cmd: Command) =>
    run(async () => {
      await withIdentities(flagsOf(cmd), (s) => s.forget(host));
      process.stdout.write(`${host}: forgotten\n`);
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
      const token = await withIdentities(f, (s) =>
        s.createEnrollToken({
          by: `cli:${process.env.USER ?? "operator"}`,
          expiresInMs: durationFlag("--expires", f.expires),
        }),
      );
      if (f.json) return printJson({ token });
      process.stdout.write(token + "\n");
    }),
  );
}
