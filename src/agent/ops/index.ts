/**
 * The fleet agent's built-in operations and host facts.
 */

import { commandOperations } from "./command.js";
import { networkOperations } from "./network.js";
import { systemOperations } from "./system.js";
import type { AgentOpsConfig, Operation } from "./types.js";

/** All built-in operations; `command.exec` only when `config.commandExec.enabled`. */
export function builtinOperations(config: AgentOpsConfig): Operation[] {
  return [
    ...systemOperations(),
    ...networkOperations(),
    ...(config.commandExec.enabled ? commandOperations() : []),
  ];
}

export {
  type AgentOpsConfig,
  type CommandExecConfig,
  type Operation,
  type OperationContext,
  type OperationKind,
  defaultAgentOpsConfig,
  defineOperation,
  runOperation,
} from "./types.js";
export { normalizeArgs } from "../../fleet/args.js";
export {
  type DiskUsage,
  type LoadInfo,
  type MemoryInfo,
  type OsInfo,
  type SystemStatus,
  type UptimeInfo,
  parseMeminfo,
  systemOperations,
} from "./system.js";
export {
  type DnsUpdateResult,
  type PingResult,
  type PingStats,
  type ResolvConf,
  type ResolvConfUpdate,
  networkOperations,
  parsePingOutput,
  parseResolvConf,
  renderResolvConf,
} from "./network.js";
export { type CommandResult, commandOperations, isCommandAllowed } from "./command.js";
export { type FactValue, gatherFacts, parseOsRelease } from "./facts.js";
