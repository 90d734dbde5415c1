/**
 * The key pair that signs the user JWTs of the auth callout (an account nkey): its public key goes
 * into every nats-server's `auth_callout { issuer }`, its seed stays with the jetjob servers (a file
 * of mode 0600, like the NATS password).
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";

import type { KeyPair } from "@nats-io/jwt";
import { createAccount, fromSeed } from "@nats-io/jwt";

import { ValidationError } from "../core/errors.js";

/** Reads the issuer seed from a file. */
export function readIssuer(path: string): KeyPair {
  let seed: string;
  try {
    seed = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new ValidationError(`cannot read the NATS auth issuer seed ${path}`, { cause: err });
  }
  if (!seed.startsWith("SA")) throw new ValidationError(`${path} does not hold an account seed (SA…)`);
  return fromSeed(new TextEncoder().encode(seed));
}

/** Reads the seed file, or creates it (mode 0600) with a new account key. */
export function loadOrCreateIssuer(path: string): KeyPair {
  if (existsSync(path)) return readIssuer(path);
  const kp = createAccount();
  writeFileSync(path, new TextDecoder().decode(kp.getSeed()) + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return kp;
}
