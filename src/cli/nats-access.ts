/**
 * Who may talk to the NATS server that `jetjob start` runs. It listens on loopback by default and
 * always requires a login (unless `--no-nats-auth`): a user `jetjob` with a password generated once
 * and kept in `<data dir>/nats.password` (mode 0600, in a data dir of mode 0700). So other users of
 * the machine can neither read jobs nor change streams, while jetjob's own CLI, SDK and agents find
 * the password themselves (nats/local-credentials.ts). TLS is on when a certificate and key are given.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { KeyPair } from "@nats-io/jwt";

import { loadOrCreateIssuer } from "../access/issuer.js";
import { ValidationError } from "../core/errors.js";
import type { ConnectOptions } from "../nats/connect.js";
import { LOCAL_NATS_USER, NATS_PASSWORD_FILE } from "../nats/local-credentials.js";

export const NATS_USER = LOCAL_NATS_USER;
/** The system-account user of `jetjob start` (disconnects revoked agents) and its files. */
export const NATS_SYSTEM_USER = "jetjob-system";
export const NATS_SYSTEM_PASSWORD_FILE = "nats-system.password";
export const NATS_ISSUER_SEED_FILE = "nats-issuer.seed";

export interface NatsAccessOptions {
  dataDir: string;
  /** Listen address. @defaultValue "127.0.0.1" */
  host?: string | undefined;
  /** Require credentials (`false`: anyone who reaches the port may do anything). @defaultValue true */
  auth?: boolean | undefined;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  /** CA that signed the certificate (for this machine's own connections). */
  tlsCaFile?: string | undefined;
}

export interface NatsAccess {
  host: string;
  exposed: boolean;
  /** Set when clients must log in. */
  user: string | undefined;
  password: string | undefined;
  passwordFile: string | undefined;
  tls: boolean;
  /** Agent identities (auth callout): set when clients must log in. */
  identities: { issuer: KeyPair; systemUser: string; systemPassword: string } | undefined;
  /** Lines for the nats-server config. */
  serverConfig: string;
  /** How processes of `jetjob start` itself connect. */
  client: Omit<ConnectOptions, "servers">;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function passwordPath(dataDir: string): string {
  return join(dataDir, NATS_PASSWORD_FILE);
}

/**
 * nats-server config lines of jetjob's NATS access with agent identities: full-rights `user`
 * (servers, CLI), a system-account user, and the auth callout for everyone else. A cluster's nodes
 * take the same lines (docs/security.md).
 */
export function calloutConfig(o: {
  user: string;
  password: string;
  systemUser: string;
  systemPassword: string;
  issuerPublicKey: string;
}): string[] {
  const q = JSON.stringify;
  return [
    `accounts { SYS { users: [ { user: ${q(o.systemUser)}, password: ${q(o.systemPassword)} } ] } }`,
    `system_account: SYS`,
    `authorization {`,
    `  users: [ { user: ${q(o.user)}, password: ${q(o.password)} } ]`,
    `  auth_callout { issuer: ${q(o.issuerPublicKey)}, auth_users: [ ${q(o.user)}, ${q(o.systemUser)} ] }`,
    `}`,
  ];
}

function loadOrCreatePassword(dataDir: string, file = NATS_PASSWORD_FILE): string {
  const path = join(dataDir, file);
  if (existsSync(path)) {
    const pw = readFileSync(path, "utf8").trim();
    if (pw) return pw;
  }
  mkdirSync(dataDir, { recursive: true });
  const pw = randomBytes(24).toString("base64url");
  writeFileSync(path, pw + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return pw;
}

export function natsAccess(o: NatsAccessOptions): NatsAccess {
  const host = o.host ?? "127.0.0.1";
  const exposed = !isLoopback(host);
  if ((o.tlsCertFile === undefined) !== (o.tlsKeyFile === undefined)) {
    throw new ValidationError("--nats-tls-cert and --nats-tls-key go together");
  }
  const lines: string[] = [];
  let password: string | undefined;
  if (o.auth === false && exposed) {
    throw new ValidationError("--no-nats-auth is only allowed on loopback (--nats-host 127.0.0.1)");
  }
  let identities: NatsAccess["identities"];
  if (o.auth !== false) {
    password = loadOrCreatePassword(o.dataDir);
    // Agents log in as themselves through the auth callout (access/callout.ts); the system user
    // lets jetjob disconnect a revoked agent.
    const systemPassword = loadOrCreatePassword(o.dataDir, NATS_SYSTEM_PASSWORD_FILE);
    const issuer = loadOrCreateIssuer(join(o.dataDir, NATS_ISSUER_SEED_FILE));
    identities = { issuer, systemUser: NATS_SYSTEM_USER, systemPassword };
    lines.push(
      ...calloutConfig({
        user: NATS_USER,
        password,
        systemUser: NATS_SYSTEM_USER,
        systemPassword,
        issuerPublicKey: issuer.getPublicKey(),
      }),
    );
  }
  const tls = o.tlsCertFile !== undefined;
  if (tls) {
    lines.push(
      `tls { cert_file: ${JSON.stringify(o.tlsCertFile)}, key_file: ${JSON.stringify(o.tlsKeyFile)} }`,
    );
  }
  const client: Omit<ConnectOptions, "servers"> = {};
  if (password !== undefined) {
    client.user = NATS_USER;
    client.pass = password;
  }
  if (tls) client.tlsCaFile = o.tlsCaFile ?? o.tlsCertFile!;
  return {
    host,
    exposed,
    user: password === undefined ? undefined : NATS_USER,
    password,
    passwordFile: password === undefined ? undefined : passwordPath(o.dataDir),
    tls,
    identities,
    serverConfig: lines.join("\n"),
    client,
  };
}
