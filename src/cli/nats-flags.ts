/**
 * The NATS connection flags shared by `jetjob server` and `jetjob agent` (credentials and TLS), and
 * their conversion to connect options. The agent's config file uses the same names in snake_case.
 */
import { readFileSync } from "node:fs";

import type { Command } from "commander";

import { ValidationError } from "../core/errors.js";
import { LOCAL_NATS_USER } from "../nats/local-credentials.js";

import type { ConnectOptions } from "../nats/connect.js";

export interface NatsFlags {
  natsCreds?: string | undefined;
  natsUser?: string | undefined;
  natsPass?: string | undefined;
  natsPassFile?: string | undefined;
  natsToken?: string | undefined;
  natsTlsCa?: string | undefined;
  natsTlsCert?: string | undefined;
  natsTlsKey?: string | undefined;
}

export function addNatsFlags(cmd: Command): Command {
  return cmd
    .option("--nats-creds <file>", "NATS credentials file")
    .option("--nats-user <user>", "NATS user")
    .option("--nats-pass-file <file>", "file holding the NATS password (or $JETJOB_NATS_PASSWORD_FILE)")
    .option(
      "--nats-pass <pass>",
      "NATS password (visible to other local users in the process list: prefer --nats-pass-file)",
    )
    .option("--nats-token <token>", "NATS token")
    .option("--nats-tls-ca <file>", "TLS to NATS: trust this CA (PEM)")
    .option("--nats-tls-cert <file>", "TLS client certificate (PEM)")
    .option("--nats-tls-key <file>", "TLS client key (PEM)");
}

export function natsConnectOptions(f: NatsFlags): Omit<ConnectOptions, "servers"> {
  const o: Omit<ConnectOptions, "servers"> = {};
  if (f.natsCreds !== undefined) o.credsFile = f.natsCreds;
  if (f.natsUser !== undefined) o.user = f.natsUser;
  if (f.natsPass !== undefined) o.pass = f.natsPass;
  if (f.natsPassFile !== undefined) {
    const pass = readFileSync(f.natsPassFile, "utf8").trim();
    if (!pass) throw new ValidationError(`--nats-pass-file ${f.natsPassFile} is empty`);
    o.pass = pass;
    o.user ??= LOCAL_NATS_USER;
  }
  if (f.natsToken !== undefined) o.token = f.natsToken;
  if (f.natsTlsCa !== undefined) o.tlsCaFile = f.natsTlsCa;
  if (f.natsTlsCert !== undefined) o.tlsCertFile = f.natsTlsCert;
  if (f.natsTlsKey !== undefined) o.tlsKeyFile = f.natsTlsKey;
  return o;
}
