/**
 * Bearer-token authentication with scopes. `admin` implies `write` implies `read`. Tokens are compared
 * in constant time (SHA-256 digests through `timingSafeEqual`, every token checked), and only token
 * names ever reach logs.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

import { ValidationError } from "../core/errors.js";

export const Scope = { Read: "read", Write: "write", Admin: "admin" } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

const scopeRank: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export interface TokenEntry {
  /** Shown in logs instead of the token. */
  name: string;
  token: string;
  scope: Scope;
}

export interface Principal {
  name: string;
  scope: Scope;
}

export interface Authenticator {
  readonly enabled: boolean;
  /** The principal for an `Authorization` header value, or `undefined` when it matches no token. */
  verify(authorization: string | undefined): Principal | undefined;
}

export function hasScope(p: Principal, needed: Scope): boolean {
  return scopeRank[p.scope] >= scopeRank[needed];
}

/** How many accepted `Authorization` values {@link createAuthenticator} remembers. */
const ACCEPTED_MAX = 64;

export function createAuthenticator(tokens: TokenEntry[], enabled = true): Authenticator {
  const digests = tokens.map((t) => ({ name: t.name, scope: t.scope, digest: sha256(t.token) }));
  // Header values that matched a token, so that a client's every request does not hash its token
  // again (the tokens of this authenticator never change). Only matches are kept: a value that
  // matches nothing is always checked in full.
  const accepted = new Map<string, Principal>();
  return {
    enabled,
    verify(authorization) {
      if (!authorization) return undefined;
      const known = accepted.get(authorization);
      if (known) return known;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) return undefined;
      const presented = sha256(m[1]!);
      let found: Principal | undefined;
      for (const d of digests) {
        // No early exit: the time taken does not depend on which token matched.
        if (timingSafeEqual(presented, d.digest) && !found) found = { name: d.name, scope: d.scope };
      }
      if (found) {
        if (accepted.size >= ACCEPTED_MAX) accepted.delete(accepted.keys().next().value!);
        accepted.set(authorization, found);
      }
      return found;
    },
  };
}

/** A new random token (URL-safe, 256 bits). */
export function generateToken(): string {
  return "jj_" + randomBytes(32).toString("base64url");
}

/**
 * Reads a tokens file: one token per line, `<name> <scope> <token>`; blank lines and `#` comments
 * are ignored.
 */
export function loadTokensFile(path: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const [name, scope, token, ...rest] = line.split(/\s+/);
    if (!name || !token || rest.length > 0 || !(scope === "read" || scope === "write" || scope === "admin")) {
      throw new ValidationError(`${path}:${i + 1}: expected "<name> <read|write|admin> <token>"`);
    }
    out.push({ name, scope, token });
  });
  return out;
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
