/**
 * `jetjob token create|list|revoke`: API tokens managed at run time (admin scope). A created token is
 * printed once; it works on every API server at once, and a revoked one is refused everywhere within
 * about a second. Start-up tokens (`.jetjob/admin.token`, `--token-file`) are not managed here.
 */
import type { Command } from "commander";

import { createHttpCaller } from "../client/http.js";
import type { TokenView } from "../server/tokens.js";
import { addClientFlags, durationFlag } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { resolveApi } from "./endpoints.js";
import { color, printFields, printJson, printTable, shortTime } from "./output.js";

function apiFor(f: ClientFlags) {
  const t = resolveApi({ api: f.api, token: f.token, dataDir: f.dataDir });
  return createHttpCaller(t.url, t.token === undefined ? {} : { token: t.token });
}

export function registerTokenCommands(program: Command, run: Runner): void {
  const token = program.command("token").description("API tokens at run time: create, list, revoke");
  addClientFlags(
    token
      .command("create")
      .description("create an API token (printed once) that works at once on every API server")
      .requiredOption("--name <name>", "shown in logs and as created_by on jobs")
      .option("--scope <scope>", "read, write or admin", "read")
      .option("--expires <duration>", "lifetime, e.g. 30d, 12h, 90m (default: until revoked)"),
  ).action((f: ClientFlags & { name: string; scope: string; expires?: string }) =>
    run(async () => {
      const r = await apiFor(f).call<TokenView & { token: string }>("POST", "/api/v1/tokens", {
        name: f.name,
        scope: f.scope,
        ...(f.expires === undefined ? {} : { expires_in_ms: durationFlag("--expires", f.expires) }),
      });
      if (f.json) return printJson(r);
      process.stdout.write(r.token + "\n");
      process.stderr.write(
        color.dim(
          `token ${r.name} (${r.scope}, ${r.id})${r.expires_at ? `, expires ${shortTime(r.expires_at)}` : ""}: ` +
            "shown only now; revoke with `jetjob token revoke " +
            r.name +
            "`",
        ) + "\n",
      );
    }, f.json),
  );
  addClientFlags(token.command("list").description("run-time tokens (never the tokens themselves)")).action(
    (f: ClientFlags) =>
      run(async () => {
        const { tokens } = await apiFor(f).call<{ tokens: TokenView[] }>("GET", "/api/v1/tokens");
        if (f.json) return printJson(tokens);
        if (tokens.length === 0) return void process.stdout.write("no run-time tokens\n");
        printTable(
          ["NAME", "ID", "SCOPE", "CREATED", "BY", "EXPIRES"],
          tokens.map((t) => [
            t.name,
            t.id,
            t.scope,
            shortTime(t.created_at),
            t.created_by ?? "-",
            t.expired ? color.red("expired") : shortTime(t.expires_at),
          ]),
        );
      }, f.json),
  );
  addClientFlags(
    token.command("revoke").description("revoke a run-time token by name or id").argument("<name-or-id>"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      const { revoked } = await apiFor(f).call<{ revoked: TokenView }>(
        "DELETE",
        `/api/v1/tokens/${encodeURIComponent(id)}`,
      );
      if (f.json) return printJson(revoked);
      printFields([
        ["revoked", revoked.name],
        ["id", revoked.id],
        ["scope", revoked.scope],
      ]);
    }, f.json),
  );
}
