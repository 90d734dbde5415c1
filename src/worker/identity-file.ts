/**
 * A worker identity's file (`createWorker({ identity: { name, file } })`): the secret it makes up
 * once and logs in with as `worker:<name>` (docs/security.md). JSON, mode 0600 in a 0700 folder; the
 * servers keep only the secret's SHA-256. Once the file exists the worker always logs in with it, and
 * an operator accepts it with `jetjob agent accept worker:<name> --queue <queue>`.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

import { newSecret } from "../access/identities.js";
import { workerUser } from "../access/worker-access.js";
import { ValidationError } from "../core/errors.js";

export interface WorkerIdentityFile {
  kind: "worker";
  name: string;
  user: string;
  secret: string;
}

/** `<data dir>/worker-<name>.identity.json`; the data dir is `JETJOB_DATA_DIR`, else `.jetjob`. */
export function defaultWorkerIdentityFile(name: string): string {
  return join(process.env.JETJOB_DATA_DIR || ".jetjob", `worker-${name.toLowerCase()}.identity.json`);
}

/** The secret in the identity file, which is made (mode 0600) when missing. */
export function loadWorkerSecret(file: string | undefined, name: string): string {
  const path = file ?? defaultWorkerIdentityFile(name);
  if (existsSync(path)) {
    let v: Partial<WorkerIdentityFile>;
    try {
      v = JSON.parse(readFileSync(path, "utf8")) as Partial<WorkerIdentityFile>;
    } catch {
      throw new ValidationError(`${path} is not a worker identity file`);
    }
    if (typeof v.secret !== "string" || typeof v.name !== "string")
      throw new ValidationError(`${path} is not a worker identity file`);
    if (v.name.toLowerCase() !== name.toLowerCase())
      throw new ValidationError(`${path} is the identity of worker '${v.name}', not '${name}'`);
    return v.secret;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const id: WorkerIdentityFile = {
    kind: "worker",
    name: name.toLowerCase(),
    user: workerUser(name),
    secret: newSecret(),
  };
  writeFileSync(path, JSON.stringify(id, null, 2) + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return id.secret;
}
