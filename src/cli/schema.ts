/**
 * `jetjob schema list|get|register|delete`: the schema registry (ojs-schema-registry) over
 * the API server's `/ojs/v1/admin/schemas` routes. Registering reads the JSON Schema from a file (or
 * `-` for stdin); every enqueue of the type is checked against its latest version from then on.
 */
import { readFileSync } from "node:fs";

import type { Command } from "commander";

import { createHttpCaller } from "../client/http.js";
import { ErrorCode, ValidationError } from "../core/errors.js";
import { addClientFlags } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { resolveApi } from "./endpoints.js";
import { printFields, printJson, printTable, shortTime } from "./output.js";

interface SchemaRecord {
  uri: string;
  type: string;
  version: number | string;
  schema?: Record<string, unknown>;
  created_at: string;
}

function apiFor(f: ClientFlags) {
  const t = resolveApi({ api: f.api, token: f.token, dataDir: f.dataDir });
  return createHttpCaller(t.url, t.token === undefined ? {} : { token: t.token });
}

const path = (type: string, version?: string) =>
  `/ojs/v1/admin/schemas/${encodeURIComponent(type)}${version === undefined ? "" : `/${encodeURIComponent(version)}`}`;

function readSchemaFile(file: string): unknown {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError(`${file} is not valid JSON`, { code: ErrorCode.InvalidRequest });
  }
}

export function registerSchemaCommands(program: Command, run: Runner): void {
  const schema = program
    .command("schema")
    .description("JSON Schemas of job args per type and version: enqueues are checked against them");
  addClientFlags(schema.command("list").description("registered schemas, newest version first")).action(
    (f: ClientFlags) =>
      run(async () => {
        const { schemas } = await apiFor(f).call<{ schemas: SchemaRecord[] }>(
          "GET",
          "/ojs/v1/admin/schemas?limit=1000",
        );
        if (f.json) return printJson(schemas);
        if (schemas.length === 0) return void process.stdout.write("no schemas registered\n");
        printTable(
          ["TYPE", "VERSION", "URI", "REGISTERED"],
          schemas.map((s) => [s.type, String(s.version), s.uri, shortTime(s.created_at)]),
        );
      }, f.json),
  );
  addClientFlags(
    schema
      .command("get")
      .description("a type's latest schema, or one version")
      .argument("<type>", "job type")
      .argument("[version]", "version (default: the latest)"),
  ).action((type: string, version: string | undefined, f: ClientFlags) =>
    run(async () => {
      const r = await apiFor(f).call<SchemaRecord>("GET", path(type, version));
      if (f.json) return printJson(r);
      printFields([
        ["type", r.type],
        ["version", String(r.version)],
        ["uri", r.uri],
        ["registered", shortTime(r.created_at)],
      ]);
      process.stdout.write(JSON.stringify(r.schema, null, 2) + "\n");
    }, f.json),
  );
  addClientFlags(
    schema
      .command("register")
      .description("register a version of a type's schema from a JSON Schema file ('-': stdin)")
      .argument("<type>", "job type")
      .argument("<version>", "version: 1, 2, ... or SemVer (1.2.0); a registered version never changes")
      .argument("<file>", "the JSON Schema of the job's args")
      .option("--uri <uri>", "the schema's URI (default urn:ojs:schema:<type>:v<version>)"),
  ).action((type: string, version: string, file: string, f: ClientFlags & { uri?: string }) =>
    run(async () => {
      const body = { schema: readSchemaFile(file), ...(f.uri === undefined ? {} : { uri: f.uri }) };
      const r = await apiFor(f).call<SchemaRecord>("PUT", path(type, version), body);
      if (f.json) return printJson(r);
      process.stdout.write(`registered ${r.type} version ${r.version} (${r.uri})\n`);
    }, f.json),
  );
  addClientFlags(
    schema
      .command("delete")
      .description("delete one version of a type's schema (the previous one becomes the latest)")
      .argument("<type>", "job type")
      .argument("<version>", "version"),
  ).action((type: string, version: string, f: ClientFlags) =>
    run(async () => {
      const r = await apiFor(f).call<Record<string, unknown>>("DELETE", path(type, version));
      if (f.json) return printJson(r);
      process.stdout.write(`deleted ${type} version ${version}\n`);
    }, f.json),
  );
}
