/**
 * Agent identities on your own NATS (`jetjob server --nats-auth-issuer-seed FILE`, docs/security.md):
 * this API server answers the nodes' auth callout, and disconnects revoked agents through the system
 * user when one is given. `jetjob nats-auth init DIR` makes the files and prints the config lines every
 * node needs.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { Command } from "commander";
import type { NatsConnection } from "@nats-io/nats-core";

import type { AuthCallout } from "../access/callout.js";
import { startAuthCallout } from "../access/callout.js";
import { newSecret } from "../access/identities.js";
import { loadOrCreateIssuer, readIssuer } from "../access/issuer.js";
import { connectSystem } from "../access/system.js";
import { ValidationError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { startWorkerRelay } from "../server/worker-relay.js";
import type { Engine } from "../store/engine.js";
import type { TopologyOptions } from "../store/infra/topology.js";
import { resolveTopology } from "../store/infra/topology.js";
import type { Runner } from "./client-flags.js";
import { calloutConfig, NATS_SYSTEM_USER, NATS_USER } from "./nats-access.js";

export interface ServerIdentityFlags {
  natsAuthIssuerSeed?: string;
  natsSystemUser?: string;
  natsSystemPassFile?: string;
}

export function addServerIdentityFlags(cmd: Command): Command {
  return cmd
    .option(
      "--nats-auth-issuer-seed <file>",
      "answer NATS auth callout for agent identities with this issuer seed (docs/security.md)",
    )
    .option(
      "--nats-system-user <user>",
      "NATS system-account user, to disconnect revoked agents",
      NATS_SYSTEM_USER,
    )
    .option("--nats-system-pass-file <file>", "file holding the system user's password");
}

/** Starts the callout service when the flags ask for it. */
export async function startServerIdentities(o: {
  flags: ServerIdentityFlags;
  nc: NatsConnection;
  /** The API server's engine: it runs the queue work of worker identities (server/worker-relay.ts). */
  engine?: Engine | undefined;
  servers: string[];
  tlsCaFile?: string | undefined;
  topology?: TopologyOptions | undefined;
  logger: Logger;
}): Promise<{ callout: AuthCallout; close(): Promise<void> } | undefined> {
  const f = o.flags;
  if (f.natsAuthIssuerSeed === undefined) {
    if (f.natsSystemPassFile !== undefined) {
      throw new ValidationError("--nats-system-pass-file goes with --nats-auth-issuer-seed");
    }
    return undefined;
  }
  const issuer = readIssuer(f.natsAuthIssuerSeed);
  let system: NatsConnection | undefined;
  if (f.natsSystemPassFile !== undefined) {
    const pass = readFileSync(f.natsSystemPassFile, "utf8").trim();
    system = await connectSystem({
      servers: o.servers,
      user: f.natsSystemUser ?? NATS_SYSTEM_USER,
      pass,
      tlsCaFile: o.tlsCaFile,
    });
  } else {
    o.logger.warn("no --nats-system-pass-file: a revoked agent stays connected until it reconnects");
  }
  const callout = await startAuthCallout({
    nc: o.nc,
    issuer,
    topology: resolveTopology(o.topology),
    system,
    logger: o.logger,
  });
  const relay = o.engine ? await startWorkerRelay({ engine: o.engine, logger: o.logger }) : undefined;
  o.logger.info("answering NATS auth callout for agent and worker identities", {
    issuer: issuer.getPublicKey(),
  });
  return {
    callout,
    async close() {
      await relay?.close();
      await callout.close();
      await system?.close().catch(() => undefined);
    },
  };
}

function writeSecretFile(path: string, secret: string): void {
  if (existsSync(path)) return;
  writeFileSync(path, secret + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** `jetjob nats-auth init DIR`: issuer seed and passwords (0600) plus the config lines for every node. */
export function registerNatsAuthCommand(program: Command, run: Runner): void {
  program
    .command("nats-auth")
    .description("NATS logins for your own nats-server nodes (agents as identities)")
    .command("init <dir>")
    .description(
      "make the issuer seed and passwords (kept if present) and print the config lines for each node",
    )
    .action((dir: string) =>
      run(() => {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const issuer = loadOrCreateIssuer(join(dir, "nats-issuer.seed"));
        writeSecretFile(join(dir, "nats.password"), newSecret());
        writeSecretFile(join(dir, "nats-system.password"), newSecret());
        const read = (f: string) => readFileSync(join(dir, f), "utf8").trim();
        const lines = calloutConfig({
          user: NATS_USER,
          password: read("nats.password"),
          systemUser: NATS_SYSTEM_USER,
          systemPassword: read("nats-system.password"),
          issuerPublicKey: issuer.getPublicKey(),
        });
        process.stdout.write(lines.join("\n") + "\n");
        process.stderr.write(
          `files in ${dir}: nats-issuer.seed and nats-system.password for the API servers, nats.password for servers and CLI\n`,
        );
        return Promise.resolve();
      }),
    );
}
