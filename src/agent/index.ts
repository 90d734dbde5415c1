/**
 * The fleet agent SDK: `createAgent({ nats, labels, handlers })` joins a machine to the fleet with
 * the built-in `system.*` / `network.*` operations and your own.
 */
export { createAgent } from "./agent.js";
export type { Agent } from "./agent.js";
export type { AgentHandler, AgentJobContext, AgentOperation, AgentOptions } from "./types.js";
export type { AgentOpsConfig, OperationKind } from "./ops/index.js";
export { gatherFacts } from "./ops/index.js";
