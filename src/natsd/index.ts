/**
 * Finding and running a local nats-server.
 * @module
 */
export { findNatsServer, INSTALL_HINT, natsServerVersion, packageRoot } from "./find.js";
export type { FoundServer } from "./find.js";
export { startNatsServer } from "./spawn.js";
export type { NatsServerOptions, RunningNatsServer } from "./spawn.js";
export { measureStoreCapacity } from "./capacity.js";
