/**
 * `jetjob agent`: runs a fleet agent on this machine. Settings come from flags, then an optional JSON
 * config file (`--config`), then defaults; flags win. `command.exec` stays off unless the config file
 * or `--enable-command-exec` turns it on.
 */
import { existsSync, readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";

import type { Command } from "commander";
import { z } from "zod";

import { createAgent } from "../agent/agent.js";
import { connectAgentNats } from "../agent/connect.js";
import { inboxPrefixFor } from "../access/permissions.js";
import { zodToValidationError } from "../core/envelope.js";
import { ValidationError } from "../core/errors.js";
import type { Logger, LogLevel } from "../core/logger.js";
import { createLogger } from "../core/logger.js";
import type { Runner } from "./client-flags.js";
import { intFlag } from "./client-flags.js";
import { localCredentials } from "../nats/local-credentials.js";
import { dataDirOf, readEndpoints } from "./endpoints.js";
import type { NatsFlags } from "./nats-flags.js";
import { addNatsFlags, natsConnectOptions } from "./nats-flags.js";
import { identityFilePath, identityLogin, loadOrCreateIdentity, untilAccepted } from "./agent-enroll.js";
import { registerAgentIdentityCommands } from "./agent-identities.js";

const configSchema = z
  .object({
    nats: z.string().optional(),
    hostname: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    facts: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    queues: z.array(z.string()).optional(),
    concurrency: z.int().min(1).max(1000).optional(),
    heartbeat_ms: z.int().min(100).optional(),
    resolv_conf_path: z.string().optional(),
    disk_paths: z.array(z.string()).optional(),
    command_exec: z
      .object({
        enabled: z.boolean(),
        allow: z.array(z.string()).optional(),
        timeout_ms: z.int().min(100).optional(),
        max_output_bytes: z.int().min(1).optional(),
      })
      .strict()
      .optional(),
    nats_creds: z.string().optional(),
    nats_user: z.string().optional(),
    nats_pass: z.string().optional(),
    nats_pass_file: z.string().optional(),
    nats_token: z.string().optional(),
    nats_tls_ca: z.string().optional(),
    nats_tls_cert: z.string().optional(),
    nats_tls_key: z.string().optional(),
  })
  .strict();
export type AgentConfig = z.infer<typeof configSchema>;

export function readAgentConfig(path: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ValidationError(
      `cannot read agent config ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) throw zodToValidationError(r.error);
  return r.data;
}

interface AgentFlags extends NatsFlags {
  nats?: string;
  dataDir?: string;
  hostname?: string;
  label: string[];
  fact: string[];
  queue: string[];
  config?: string;
  concurrency?: string;
  enableCommandExec?: boolean;
  logLevel?: LogLevel;
  enroll?: boolean;
  enrollToken?: string;
  identityFile?: string;
}

const collect = (v: string, all: string[]) => [...all, v];

function parseFact(f: string): [string, string | number | boolean] {
  const i = f.indexOf("=");
  if (i <= 0) throw new ValidationError(`--fact ${f}: use key=value`);
  const v = f.slice(i + 1);
  const typed = v === "true" ? true : v === "false" ? false : /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  return [f.slice(0, i), typed];
}

/** Starts an agent from flags and config; resolves once it is registered. */
export async function startAgentFromFlags(f: AgentFlags, logger: Logger, version: string) {
  const cfg = f.config ? readAgentConfig(f.config) : {};
  // Like the other commands: the NATS URL and its password from a `jetjob start` data dir
  // (--data-dir, $JETJOB_DATA_DIR or .jetjob) when neither a flag, the environment nor --config names them.
  const dataDir = dataDirOf(f.dataDir);
  const nats =
    f.nats ?? (process.env.JETJOB_NATS_URL || undefined) ?? cfg.nats ?? readEndpoints(dataDir)?.nats;
  if (!nats) {
    throw new ValidationError(
      `--nats is required (or JETJOB_NATS_URL, \`nats\` in --config, or a \`jetjob start\` data dir: ${dataDir} has no endpoints.json)`,
      { hint: "Run `jetjob start` first, pass --data-dir DIR of one, or --nats URL." },
    );
  }
  const labels = { ...cfg.labels };
  for (const l of f.label) {
    const i = l.indexOf(":");
    if (i <= 0) throw new ValidationError(`--label ${l}: use key:value`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const facts = { ...cfg.facts, ...Object.fromEntries(f.fact.map(parseFact)) };
  const dirLogin =
    f.dataDir === undefined || f.enroll === true
      ? undefined
      : localCredentials(nats, { ...process.env, JETJOB_DATA_DIR: dataDir });
  const natsOptions = natsConnectOptions({
    natsCreds: f.natsCreds ?? cfg.nats_creds,
    natsUser: f.natsUser ?? cfg.nats_user,
    natsPass: f.natsPass ?? cfg.nats_pass,
    natsPassFile: f.natsPassFile ?? cfg.nats_pass_file,
    natsToken: f.natsToken ?? cfg.nats_token,
    natsTlsCa: f.natsTlsCa ?? cfg.nats_tls_ca,
    natsTlsCert: f.natsTlsCert ?? cfg.nats_tls_cert,
    natsTlsKey: f.natsTlsKey ?? cfg.nats_tls_key,
  });
  // A --data-dir login counts only when nothing else names credentials (connectNats finds the
  // $JETJOB_DATA_DIR / .jetjob one by itself).
  const named = [natsOptions.user, natsOptions.pass, natsOptions.token, natsOptions.credsFile];
  if (dirLogin && named.every((v) => v === undefined)) {
    natsOptions.user = dirLogin.user;
    natsOptions.pass = dirLogin.pass;
  }
  // Its own NATS identity (docs/security.md): with --enroll, or once an identity file exists, and
  // unless a login is named explicitly.
  const hostnameForId = f.hostname ?? cfg.hostname ?? osHostname();
  const idPath = identityFilePath(dataDir, hostnameForId, f.identityFile);
  const useIdentity =
    (f.enroll === true || existsSync(idPath)) &&
    [natsOptions.user, natsOptions.token, natsOptions.credsFile].every((v) => v === undefined);
  if (useIdentity) {
    const id = loadOrCreateIdentity(idPath, hostnameForId);
    const login = identityLogin(id, f.enrollToken);
    natsOptions.user = login.user;
    natsOptions.pass = login.pass;
  } else if (f.enrollToken !== undefined) {
    throw new ValidationError("--enroll-token goes with --enroll");
  }
  const exec = cfg.command_exec;
  const queues = f.queue.length > 0 ? f.queue : (cfg.queues ?? []);
  const concurrency =
    f.concurrency === undefined ? cfg.concurrency : intFlag("--concurrency", f.concurrency, 1);
  // The command opens the connection itself, so that it sees NATS close it for good (a revoked
  // identity: the agent cannot do anything any more, and says so by exiting).
  const start = async () => {
    const nc = await connectAgentNats(
      nats,
      { inboxPrefix: inboxPrefixFor(hostnameForId), ...natsOptions },
      hostnameForId,
      logger,
    );
    const agent = await createAgent({
      nats: nc,
      handleSignals: false, // the command's own handler closes the agent, then exits
      hostname: hostnameForId,
      labels,
      facts,
      queues,
      // An agent identity takes queue jobs through the API servers' relay (docs/security.md).
      ...(useIdentity && queues.length > 0 ? { queuesViaRelay: true } : {}),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(cfg.heartbeat_ms === undefined ? {} : { timings: { heartbeatMs: cfg.heartbeat_ms } }),
      ops: {
        ...(cfg.resolv_conf_path === undefined ? {} : { resolvConfPath: cfg.resolv_conf_path }),
        ...(cfg.disk_paths === undefined ? {} : { diskPaths: cfg.disk_paths }),
        commandExec: {
          enabled: f.enableCommandExec === true || exec?.enabled === true,
          timeoutMs: exec?.timeout_ms ?? 60_000,
          maxOutputBytes: exec?.max_output_bytes ?? 1024 * 1024,
          ...(exec?.allow === undefined ? {} : { allow: exec.allow }),
        },
      },
      logger,
      version,
    }).catch(async (err: unknown) => {
      await nc.close();
      throw err;
    });
    return { agent, nc };
  };
  return useIdentity ? untilAccepted(start, { hostname: hostnameForId, logger }) : start();
}

export function registerAgentCommand(program: Command, run: Runner, version: string): void {
  const agentCommand = program.command("agent");
  registerAgentIdentityCommands(agentCommand, run);
  addNatsFlags(
    agentCommand
      .description("run a fleet agent: registers this machine and runs the operations sent to it")
      .option(
        "--nats <url>",
        "NATS URL(s), comma-separated (default: $JETJOB_NATS_URL, else the data dir's endpoints.json)",
      )
      .option(
        "--data-dir <dir>",
        "data dir of `jetjob start` to read the NATS URL and login from (default: .jetjob)",
      )
      .option("--hostname <name>", "name in the registry (default: the OS hostname)")
      .option("--label <key:value>", "a label, e.g. group:web.dev.us-east (repeatable)", collect, [])
      .option("--fact <key=value>", "an extra fact, e.g. rack=r12 (repeatable)", collect, [])
      .option("--queue <name>", "also take OJS queue jobs of this queue (repeatable)", collect, [])
      .option("--concurrency <n>", "jobs at the same time (default 8)")
      .option("--config <file>", "JSON config file (labels, facts, command_exec, ...)")
      .option("--enable-command-exec", "offer command.exec (runs programs on this machine; off by default)")
      .option("--enroll", "log in with this agent's own NATS identity; wait until an operator accepts it")
      .option("--enroll-token <token>", "a one-time token from `jetjob agent enroll-token`: accepted at once")
      .option(
        "--identity-file <file>",
        "where the agent's identity is kept (default: <data dir>/agent-<hostname>.identity.json)",
      ),
  )
    .option("--log-level <level>", "debug, info, warn, error")
    .action((f: AgentFlags) =>
      run(async () => {
        const logger = createLogger({ ...(f.logLevel === undefined ? {} : { level: f.logLevel }) });
        const { agent, nc } = await startAgentFromFlags(f, logger, version);
        logger.info("jetjob agent running", { hostname: agent.hostname, labels: agent.labels() });
        let stopping = false;
        const stop = () => {
          stopping = true;
          void agent
            .close()
            .then(() => nc.drain().catch(() => undefined))
            .then(() => {
              logger.info("jetjob agent stopped");
              process.exit(0);
            });
        };
        void nc.closed().then((err) => {
          if (stopping) return;
          // NATS gave up on this login (revoked, rejected) or the connection: nothing left to do here.
          logger.error("NATS closed the agent's connection; stopping", {
            error: err instanceof Error ? err.message : "closed",
            hint: "if this agent was revoked, an operator can see it with `jetjob agent identities`",
          });
          void agent.close().finally(() => process.exit(1));
        });
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      }),
    );
}
