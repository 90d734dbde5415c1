/**
 * `jetjob start`: everything on one machine with no configuration. Starts a nats-server (loopback,
 * JetStream, data under `<data-dir>/nats`), the API server, writes `<data-dir>/endpoints.json`, and
 * creates the admin token on first run. Ctrl-C / SIGTERM stops every child; nothing is left running.
 */
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import type { Agent } from "../agent/agent.js";
import { createAgent } from "../agent/agent.js";
import { createLogger } from "../core/logger.js";
import type { LogLevel, Logger } from "../core/logger.js";
import { findNatsServer, measureStoreCapacity, startNatsServer } from "../natsd/index.js";
import { createAuthenticator, generateToken } from "../server/auth.js";
import { runApiServer } from "../server/run.js";
import { checkPortFree, lockDataDir } from "./start-lock.js";
import type { RetentionDefaults } from "../core/storage-options.js";
import type { TopologyOptions } from "../store/infra/topology.js";
import { retryWhileRefused } from "./agent-enroll.js";
import { natsAccess } from "./nats-access.js";
import type { LocalIdentities } from "./local-identities.js";
import { startLocalIdentities } from "./local-identities.js";
import { dataDirOf, readToken, removeEndpoints, tokenPath, writeEndpoints, writeToken } from "./endpoints.js";
import { color } from "./output.js";

export interface StartOptions {
  port: number;
  host: string;
  natsPort: number;
  dataDir?: string | undefined;
  enableReset: boolean;
  logLevel?: LogLevel | undefined;
  version: string;
  /** Run a local fleet agent too. @defaultValue true */
  agent?: boolean;
  /** Labels of the local agent (`key:value`). */
  agentLabels?: string[];
  /** NATS listen address; anything but loopback turns on NATS authentication. */
  natsHost?: string | undefined;
  /** NATS authentication even on loopback. */
  natsAuth?: boolean | undefined;
  natsTlsCert?: string | undefined;
  natsTlsKey?: string | undefined;
  natsTlsCa?: string | undefined;
  /** Retention defaults (`--retain-*`). */
  retention?: Partial<RetentionDefaults>;
  /** Stream bounds (`--events-max-*`). */
  topology?: TopologyOptions;
  /** JetStream's storage limit (`--storage-max-bytes`); measured from the disk when not given. */
  storageMaxBytes?: number;
}

export async function startCommand(o: StartOptions): Promise<void> {
  const dataDir = dataDirOf(o.dataDir);
  // Jobs' data, the token and the NATS password are for this user only: a new data dir is made
  // 0700, the store in it always (the token and password files are 0600 themselves).
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(dataDir, "nats"), { recursive: true, mode: 0o700 });
  chmodSync(join(dataDir, "nats"), 0o700);
  const logger = createLogger({ ...(o.logLevel === undefined ? {} : { level: o.logLevel }) });
  const found = findNatsServer();

  const envToken = process.env.JETJOB_API_TOKEN || undefined; // empty counts as unset
  let token = envToken ?? readToken(dataDir);
  let tokenNote = envToken ? "from JETJOB_API_TOKEN" : `from ${tokenPath(dataDir)}`;
  if (!token) {
    token = generateToken();
    writeToken(dataDir, token);
    tokenNote = `new; saved in ${tokenPath(dataDir)}`;
  }

  const lock = lockDataDir(dataDir);
  process.once("exit", () => lock.release());
  await checkPortFree(o.natsHost ?? "127.0.0.1", o.natsPort, "--nats-port", "NATS");
  await checkPortFree(o.host, o.port, "--port", "API");
  const access = natsAccess({
    dataDir,
    host: o.natsHost,
    auth: o.natsAuth,
    tlsCertFile: o.natsTlsCert,
    tlsKeyFile: o.natsTlsKey,
    tlsCaFile: o.natsTlsCa,
  });
  // An explicit limit, so jetjob knows it and refuses new jobs before it is reached (natsd/capacity.ts).
  const storageCapacityBytes = o.storageMaxBytes ?? measureStoreCapacity(join(dataDir, "nats"));
  const started = await startNatsServer({
    binary: found.path,
    storeDir: join(dataDir, "nats"),
    maxFileStoreBytes: storageCapacityBytes,
    host: access.host,
    port: o.natsPort,
    monitorPort: -1,
    name: "jetjob",
    extraConfig: [`log_file: ${JSON.stringify(join(dataDir, "nats-server.log"))}`, access.serverConfig].join(
      "\n",
    ),
  });
  // This machine's own processes connect over loopback, whatever address the server listens on.
  const wildcard = access.host === "0.0.0.0" || access.host === "::" || !access.exposed;
  const nats = {
    ...started,
    url: wildcard ? `nats://127.0.0.1:${new URL(started.url).port}` : started.url,
    stop: (graceMs?: number) => started.stop(graceMs),
  };
  let api;
  try {
    api = await runApiServer({
      nats: { servers: nats.url, name: "jetjob-start", ...access.client },
      port: o.port,
      host: o.host,
      auth: createAuthenticator([{ name: "admin", token, scope: "admin" }]),
      logger,
      version: o.version,
      enableReset: o.enableReset,
      ...(o.retention === undefined ? {} : { retention: o.retention }),
      ...(o.topology === undefined ? {} : { topology: o.topology }),
      storageCapacityBytes,
      agentIdentities: access.identities !== undefined,
    });
  } catch (err) {
    await nats.stop();
    throw err;
  }
  // Agents log in as themselves (docs/security.md): this process answers nats-server's auth callout,
  // and the local agent is accepted at once with a secret kept in the data dir.
  let callout: LocalIdentities | undefined;
  if (access.identities) {
    try {
      callout = await startLocalIdentities({
        dataDir,
        url: nats.url,
        nc: api.nc,
        engine: api.engine,
        identities: access.identities,
        tlsCaFile: access.client.tlsCaFile,
        topology: o.topology,
        logger,
      });
    } catch (err) {
      await api.close();
      await nats.stop();
      throw err;
    }
  }
  let agent: Agent | undefined;
  if (o.agent !== false) {
    try {
      agent = await loginLocalAgent(callout !== undefined, logger, {
        nats: nats.url,
        natsOptions: callout ? callout.agentLogin(access.client) : access.client,
        labels: o.agentLabels ?? [],
        logger,
        version: o.version,
        handleSignals: false, // `stop` below closes everything in order
      });
    } catch (err) {
      await callout?.close();
      await api.close();
      await nats.stop();
      throw err;
    }
  }
  writeEndpoints(dataDir, { api: api.url, nats: nats.url });

  const out = process.stdout;
  out.write(`${color.bold("jetjob")} ${o.version} is running\n`);
  out.write(`  ${color.dim("API  ")}  ${api.url}   (OJS at /ojs/v1, health at /health)\n`);
  out.write(
    `  ${color.dim("NATS ")}  ${nats.url}   (nats-server ${found.version}, data in ${join(dataDir, "nats")}, up to ${formatBytes(storageCapacityBytes)})\n`,
  );
  if (access.exposed || access.user !== undefined) {
    const where = access.exposed ? `listening on ${access.host}:${new URL(nats.url).port}` : "loopback";
    out.write(
      `  ${color.dim("     ")}  ${where}; user ${access.user}, password in ${access.passwordFile}${access.tls ? ", TLS" : ""}\n`,
    );
    if (access.exposed) {
      out.write(
        `  ${color.dim("     ")}  agents: copy ${access.passwordFile} to the agent's machine, then jetjob agent --nats nats://<this host>:${new URL(nats.url).port} --nats-pass-file <copy>${access.tls ? " --nats-tls-ca <ca.pem>" : ""}\n`,
      );
    }
  }
  out.write(`  ${color.dim("Token")}  ${token}   (${tokenNote})\n`);
  if (agent) {
    out.write(
      `  ${color.dim("Agent")}  ${agent.hostname}   (try: jetjob job run system.hostname.get --target all)\n`,
    );
  }
  out.write(
    `  ${color.dim("Env  ")}  export JETJOB_API_URL=${api.url} JETJOB_API_TOKEN=$(cat ${tokenPath(dataDir)})\n`,
  );
  if (o.enableReset)
    out.write(`  ${color.yellow("reset")}  POST /ojs/v1/admin/reset is enabled (test runs only)\n`);
  out.write(`Press Ctrl-C to stop.\n`);

  let stopping: Promise<void> | undefined;
  const stop = (code: number) =>
    (stopping ??= (async () => {
      out.write(`\nstopping jetjob...\n`);
      await agent
        ?.close()
        .catch((err: unknown) => logger.warn("agent did not stop cleanly", { error: String(err) }));
      await callout?.close();
      try {
        await api.close();
      } catch (err) {
        logger.warn("API server did not stop cleanly", { error: String(err) });
      }
      await nats.stop();
      removeEndpoints(dataDir);
      out.write(`stopped.\n`);
      process.exit(code);
    })());
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));
  void nats.exited.then((exitCode) => {
    if (stopping) return;
    logger.error("nats-server exited unexpectedly; stopping", { exit_code: exitCode });
    void stop(1);
  });
}

/** `47.9 MiB`, `12.0 GiB`. */
function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Logins of the local agent tried before `jetjob start` gives up. */
const LOCAL_AGENT_LOGIN_TRIES = 5;

/**
 * Starts the local agent. Through the auth callout, a refused login is tried again: the agent is
 * accepted already, so a refusal means this process answered the callout later than nats-server
 * waits (seen under heavy load), not that the agent may not join.
 */
async function loginLocalAgent(
  viaCallout: boolean,
  logger: Logger,
  options: Parameters<typeof createAgent>[0],
): Promise<Agent> {
  if (!viaCallout) return createAgent(options);
  return retryWhileRefused(() => createAgent(options), {
    retryMs: 1000,
    tries: LOCAL_AGENT_LOGIN_TRIES,
    refused: (attempt) => logger.warn("the local agent's login was refused; trying again", { attempt }),
  });
}
