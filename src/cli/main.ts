/**
 * The `jetjob` command.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Command, InvalidArgumentError, Option } from "commander";

import { ExitCode } from "../core/errors.js";
import { createLogger, LogLevel } from "../core/logger.js";
import { packageRoot } from "../natsd/find.js";
import { createAuthenticator, loadTokensFile } from "../server/auth.js";
import type { TokenEntry } from "../server/auth.js";
import { runApiServer } from "../server/run.js";
import { registerCronCommands } from "./cron.js";
import { registerDlqCommands } from "./dlq.js";
import { registerJobCommands } from "./job.js";
import { registerLockCommands } from "./lock.js";
import { registerAgentCommand } from "./agent.js";
import type { NatsFlags } from "./nats-flags.js";
import { addNatsFlags, natsConnectOptions } from "./nats-flags.js";
import { registerTargetCommand } from "./fleet.js";
import { registerWorkerCommands } from "./worker.js";
import { registerTokenCommands } from "./token.js";
import { registerSchemaCommands } from "./schema.js";
import { reportError } from "./output.js";
import { registerQueueCommands } from "./queue.js";
import { registerStorageCommand } from "./storage.js";
import type { StorageFlags } from "./storage-flags.js";
import { addStorageFlags, retentionFromFlags, topologyFromFlags } from "./storage-flags.js";
import { startCommand } from "./start.js";
import type { ServerIdentityFlags } from "./server-identities.js";
import {
  addServerIdentityFlags,
  registerNatsAuthCommand,
  startServerIdentities,
} from "./server-identities.js";

const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string })
  .version;

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("must be a port number (0 = any free port)");
  return n;
}

function replicas(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 5)
    throw new InvalidArgumentError("must be an integer from 1 to 5");
  return n;
}

async function run(fn: () => Promise<void>, json?: boolean): Promise<void> {
  try {
    await fn();
  } catch (err) {
    process.exitCode = reportError(err, json === true);
  }
}

const logLevel = new Option("--log-level <level>", "debug, info, warn, error").choices(
  Object.values(LogLevel).filter((l) => l !== "silent"),
);

const enableReset = () =>
  new Option("--enable-reset", "allow POST /ojs/v1/admin/reset (test runs only)").default(
    process.env.JETJOB_ENABLE_RESET === "1",
  );

const program = new Command()
  .name("jetjob")
  .description("A job system on NATS JetStream: OJS job queue and fleet dispatch")
  .version(version)
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) })
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
  });

program
  .command("start")
  .description("run nats-server, the API server and a local agent on this machine (no configuration needed)")
  .option("--port <port>", "API port (0 = any free port)", port, 8080)
  .option("--host <host>", "API listen address", "127.0.0.1")
  .option("--nats-port <port>", "NATS client port (0 = any free port)", port, 4222)
  .option("--data-dir <dir>", "where data, token and endpoints.json live (default: .jetjob)")
  .option("--no-agent", "do not run the local fleet agent")
  .option("--nats-host <addr>", "NATS listen address (default 127.0.0.1)")
  .option(
    "--no-nats-auth",
    "let anyone who reaches NATS on loopback in without a login (insecure on a shared machine; by default " +
      "user jetjob, password in <data-dir>/nats.password, found by jetjob's own tools)",
  )
  .option("--nats-tls-cert <file>", "serve NATS over TLS with this certificate (PEM)")
  .option("--nats-tls-key <file>", "key of --nats-tls-cert (PEM)")
  .option("--nats-tls-ca <file>", "CA of the certificate, for this machine's own connections")
  .option(
    "--agent-label <key:value>",
    "a label of the local agent (repeatable)",
    (v: string, all: string[]) => [...all, v],
    [],
  )
  .addOption(enableReset())
  .addOption(logLevel)
  .action(
    (
      o: StorageFlags & {
        port: number;
        host: string;
        natsPort: number;
        dataDir?: string;
        enableReset: boolean;
        logLevel?: LogLevel;
        agent: boolean;
        agentLabel: string[];
        natsHost?: string;
        natsAuth?: boolean;
        natsTlsCert?: string;
        natsTlsKey?: string;
        natsTlsCa?: string;
      },
    ) =>
      run(() =>
        startCommand({
          ...o,
          agentLabels: o.agentLabel,
          version,
          retention: retentionFromFlags(o),
          topology: topologyFromFlags(o),
        }),
      ),
  );

addNatsFlags(
  program
    .command("server")
    .description("run the API server against an existing NATS server")
    .requiredOption("--nats <url>", "NATS URL(s), comma-separated", process.env.JETJOB_NATS_URL)
    .option("--port <port>", "API port (0 = any free port)", port, 8080)
    .option("--host <host>", "API listen address", "127.0.0.1")
    .option("--token-file <file>", "tokens file: lines of `<name> <read|write|admin> <token>`"),
)
  .option(
    "--replicas <n>",
    "replicas of every stream and bucket (default: what exists, else 3 on a cluster of 3+ servers, else 1)",
    replicas,
  )
  .addOption(enableReset())
  .addOption(logLevel)
  .action(
    (
      o: NatsFlags &
        ServerIdentityFlags &
        StorageFlags & {
          nats: string;
          replicas?: number;
          port: number;
          host: string;
          tokenFile?: string;
          enableReset: boolean;
          logLevel?: LogLevel;
        },
    ) =>
      run(async () => {
        const logger = createLogger({ ...(o.logLevel === undefined ? {} : { level: o.logLevel }) });
        const tokens: TokenEntry[] = o.tokenFile ? loadTokensFile(o.tokenFile) : [];
        if (process.env.JETJOB_API_TOKEN)
          tokens.push({ name: "env", token: process.env.JETJOB_API_TOKEN, scope: "admin" });
        if (tokens.length === 0) {
          logger.warn(
            "no API tokens configured (--token-file or JETJOB_API_TOKEN): every request will be refused",
          );
        }
        const srv = await runApiServer({
          nats: { servers: o.nats.split(","), ...natsConnectOptions(o) },
          port: o.port,
          host: o.host,
          auth: createAuthenticator(tokens),
          logger,
          version,
          enableReset: o.enableReset,
          retention: retentionFromFlags(o),
          topology: {
            ...topologyFromFlags(o),
            ...(o.replicas === undefined ? {} : { replicas: o.replicas }),
          },
          ...(o.storageMaxBytes === undefined ? {} : { storageCapacityBytes: o.storageMaxBytes }),
          agentIdentities: o.natsAuthIssuerSeed !== undefined,
        });
        const identities = await startServerIdentities({
          flags: o,
          nc: srv.nc,
          engine: srv.engine,
          servers: o.nats.split(","),
          tlsCaFile: o.natsTlsCa,
          topology: topologyFromFlags(o),
          logger,
        }).catch(async (err: unknown) => {
          await srv.close();
          throw err;
        });
        logger.info("jetjob API server listening", { url: srv.url, nats: o.nats });
        const stop = () =>
          void (identities?.close() ?? Promise.resolve()).then(() => srv.close()).then(() => process.exit(0));
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      }),
  );

// Retention and the events stream's bounds (docs/retention.md), the same on both server commands.
for (const name of ["start", "server"]) addStorageFlags(program.commands.find((c) => c.name() === name)!);

registerJobCommands(program, run);
registerQueueCommands(program, run);
registerStorageCommand(program, run);
registerDlqCommands(program, run);
registerCronCommands(program, run);
registerLockCommands(program, run);
registerWorkerCommands(program, run);
registerTokenCommands(program, run);
registerSchemaCommands(program, run);
registerTargetCommand(program, run);
registerAgentCommand(program, run, version);
registerNatsAuthCommand(program, run);
addServerIdentityFlags(program.commands.find((c) => c.name() === "server")!);

// `jetjob job list | head -2`: the reader closed the pipe. Stop quietly, as other Unix tools do.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(ExitCode.Ok);
  throw err;
});

await program.parseAsync(process.argv);
