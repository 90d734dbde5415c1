/**
 * Running the API server against a NATS URL: connect (with version checks), set up the engine, bind
 * the HTTP port. Used by `jetjob server` and `jetjob start`.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

import { ValidationError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { HousekeepingOptions, PayloadLimits, RetentionDefaults } from "../core/storage-options.js";
import type { ConnectOptions } from "../nats/connect.js";
import { connectNats } from "../nats/connect.js";
import type { Controller, ControllerOptions } from "../fleet/controller.js";
import { createController } from "../fleet/controller.js";
import { createCronFleet } from "../fleet/cron.js";
import type { Engine } from "../store/engine.js";
import { createEngine } from "../store/engine.js";
import { SchemaValidationMode } from "../store/schemas/schema-registry.js";
import { detectReplicas } from "../store/infra/replicas.js";
import type { TopologyOptions } from "../store/infra/topology.js";
import { defaultStreamLimits, resolveTopology } from "../store/infra/topology.js";
import type { IdentityStore } from "../access/identities.js";
import { identityStore, openIdentities } from "../access/identities.js";
import type { Authenticator } from "./auth.js";
import type { TokenStore } from "./tokens.js";
import { createTokenStore, withTokenStore } from "./tokens.js";
import { createApp } from "./app.js";
import type { HttpServer } from "./listen.js";
import { listen } from "./listen.js";
import type { Metrics } from "./metrics.js";
import { createMetrics } from "./metrics.js";

export interface ApiServerOptions {
  nats: ConnectOptions;
  port?: number;
  host?: string;
  auth: Authenticator;
  logger: Logger;
  version: string;
  enableReset?: boolean;
  /** Streams and buckets; without `replicas`, it is detected from NATS (store/infra/replicas.ts). */
  topology?: TopologyOptions;
  maxBodyBytes?: number;
  /** Fleet controller settings (timings). */
  fleet?: Omit<ControllerOptions, "onError">;
  /** Retention defaults: how long finished jobs are kept (docs/retention.md). */
  retention?: Partial<RetentionDefaults>;
  /** Payload limits (args, results, errors, batch size). */
  limits?: Partial<PayloadLimits>;
  /** Housekeeping timings, or false to leave it to other servers. */
  housekeeping?: HousekeepingOptions | false;
  /** How much JetStream may store (store/infra/storage-guard.ts). */
  storageCapacityBytes?: number;
  /**
   * Origins browsers may call the API from (CORS). @defaultValue `JETJOB_CORS_ORIGINS`, comma
   * separated, else none
   */
  corsOrigins?: readonly string[];
  /**
   * How enqueues are checked against registered schemas: strict (refuse), warn (store, answer the
   * problems as warnings) or off. @defaultValue `JETJOB_SCHEMA_VALIDATION`, else strict
   */
  schemaValidation?: SchemaValidationMode;
  /**
   * This deployment's NATS hands agents' logins to jetjob's auth callout (`jetjob start` with NATS
   * auth, `jetjob server --nats-auth-issuer-seed`): serve agent enrollment over HTTP
   * (routes-identities.ts). @defaultValue false (the routes say enrollment is off)
   */
  agentIdentities?: boolean;
}

export interface RunningApiServer {
  url: string;
  port: number;
  engine: Engine;
  fleet: Controller;
  metrics: Metrics;
  nc: NatsConnection;
  /** Graceful stop: no new requests, finish open ones, flush, close NATS. */
  close(): Promise<void>;
}

export async function runApiServer(o: ApiServerOptions): Promise<RunningApiServer> {
  const nc = await connectNats({ name: "jetjob-server", waitOnFirstConnect: false, ...o.nats });
  const log = o.logger;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") log.warn("NATS connection lost; reconnecting");
      else if (s.type === "reconnect") log.info("NATS connection restored");
    }
  })().catch(() => undefined);
  // Scheduled fleet jobs: the engine's cron ticks go to the controller created below (it needs the
  // engine's store); a tick before then waits for it.
  let setFleet: (c: Controller | undefined) => void = () => undefined;
  const fleetReady = new Promise<Controller | undefined>((resolve) => (setFleet = resolve));
  let engine: Engine;
  try {
    // The server is the authority on stream limits: it applies its own (flags or defaults) at start-up.
    let topology = { ...defaultStreamLimits(), ...o.topology };
    if (topology.replicas === undefined) {
      const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
      const choice = await detectReplicas(nc, jsm, resolveTopology(topology).streams.queue);
      log.info("stream and bucket replicas detected", { replicas: choice.replicas, reason: choice.reason });
      topology = { ...topology, replicas: choice.replicas };
    }
    engine = await createEngine(nc, {
      topology,
      ...(o.retention === undefined ? {} : { retention: o.retention }),
      ...(o.limits === undefined ? {} : { limits: o.limits }),
      ...(o.housekeeping === undefined ? {} : { housekeeping: o.housekeeping }),
      ...(o.storageCapacityBytes === undefined ? {} : { storageCapacityBytes: o.storageCapacityBytes }),
      schemaValidation: o.schemaValidation ?? schemaValidationFromEnv(),
      cron: {
        fleet: createCronFleet(fleetReady),
        onWarn: (message, fields) => log.warn(message, fields),
      },
      onError: (err) =>
        log.warn("background task error", { error: err instanceof Error ? err.message : String(err) }),
    });
  } catch (err) {
    setFleet(undefined);
    await nc.close();
    throw err;
  }
  let fleet: Controller;
  try {
    fleet = await createController(engine.ctx, {
      ...o.fleet,
      logger: log,
      onError: (err) =>
        log.warn("fleet controller error", { error: err instanceof Error ? err.message : String(err) }),
    });
  } catch (err) {
    setFleet(undefined);
    await engine.close();
    await nc.close();
    throw err;
  }
  setFleet(fleet);
  let metrics: Metrics;
  try {
    metrics = await createMetrics({
      engine,
      fleet,
      onError: (err) =>
        log.warn("metrics error", { error: err instanceof Error ? err.message : String(err) }),
    });
  } catch (err) {
    await fleet.close();
    await engine.close();
    await nc.close();
    throw err;
  }
  let tokens: TokenStore;
  try {
    tokens = await createTokenStore(engine.ctx.buckets.tokens, (err) =>
      log.warn("token store error", { error: err instanceof Error ? err.message : String(err) }),
    );
  } catch (err) {
    await metrics.close();
    await fleet.close();
    await engine.close();
    await nc.close();
    throw err;
  }
  let identities: IdentityStore | undefined;
  if (o.agentIdentities === true) {
    try {
      identities = identityStore(await openIdentities(nc, engine.ctx.topology));
    } catch (err) {
      tokens.close();
      await metrics.close();
      await fleet.close();
      await engine.close();
      await nc.close();
      throw err;
    }
  }
  const app = createApp({
    engine,
    fleet,
    metrics,
    auth: withTokenStore(o.auth, tokens),
    tokens,
    identities: { identities, natsUrls: natsUrlsOf(o.nats.servers) },
    logger: log,
    version: o.version,
    enableReset: o.enableReset ?? false,
    ...(o.maxBodyBytes === undefined ? {} : { maxBodyBytes: o.maxBodyBytes }),
    corsOrigins:
      o.corsOrigins ??
      (process.env.JETJOB_CORS_ORIGINS ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
  });
  let http: HttpServer;
  try {
    http = await listen(app, {
      ...(o.port === undefined ? {} : { port: o.port }),
      ...(o.host === undefined ? {} : { host: o.host }),
    });
  } catch (err) {
    tokens.close();
    await metrics.close();
    await fleet.close();
    await engine.close();
    await nc.close();
    throw err;
  }
  return {
    url: http.url,
    port: http.port,
    engine,
    fleet,
    metrics,
    nc,
    async close() {
      await http.close();
      tokens.close();
      await metrics.close();
      await fleet.close();
      await engine.close();
      await nc.drain();
    },
  };
}

/** `JETJOB_SCHEMA_VALIDATION` (strict, warn or off); unset: strict. */
function schemaValidationFromEnv(): SchemaValidationMode {
  const v = process.env.JETJOB_SCHEMA_VALIDATION;
  if (v === undefined || v === "") return SchemaValidationMode.Strict;
  if (v === "strict" || v === "warn" || v === "off") return v;
  throw new ValidationError(`JETJOB_SCHEMA_VALIDATION must be strict, warn or off (not '${v}')`);
}

/** The NATS URLs of the connect options (a string may list several, comma separated). */
function natsUrlsOf(servers: ConnectOptions["servers"]): string[] {
  return (Array.isArray(servers) ? servers : [servers])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}
