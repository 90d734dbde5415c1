/**
 * The operations one agent offers: the built-in ones (unless turned off) and the user's handlers,
 * behind one `invoke(args, job)` shape. A user handler with a built-in's name replaces it.
 */
import { defaultOperationKind } from "../fleet/kinds.js";
import type { OperationKind } from "../fleet/types.js";
import type { AgentOpsConfig } from "./ops/index.js";
import { builtinOperations, defaultAgentOpsConfig, runOperation } from "./ops/index.js";
import type { AgentJobContext, AgentOptions } from "./types.js";

export interface AgentOp {
  name: string;
  kind: OperationKind;
  description: string;
  invoke(args: unknown, job: AgentJobContext): Promise<unknown>;
}

export function agentOpsConfig(o: AgentOptions): AgentOpsConfig {
  return {
    ...defaultAgentOpsConfig,
    ...o.ops,
    commandExec: { ...defaultAgentOpsConfig.commandExec, ...o.ops?.commandExec },
  };
}

export function agentOperations(o: AgentOptions, hostname: string): Map<string, AgentOp> {
  const ops = new Map<string, AgentOp>();
  if (o.builtins !== false) {
    const config = agentOpsConfig(o);
    for (const op of builtinOperations(config)) {
      ops.set(op.name, {
        name: op.name,
        kind: op.kind,
        description: op.description,
        invoke: (args, job) => runOperation(op, args, { signal: job.signal, hostname, config }),
      });
    }
  }
  for (const [name, h] of Object.entries(o.handlers ?? {})) {
    const def = typeof h === "function" ? { handler: h } : h;
    ops.set(name, {
      name,
      kind: def.kind ?? defaultOperationKind(name),
      description: def.description ?? "",
      invoke: (_args, job) => Promise.resolve().then(() => def.handler(job)),
    });
  }
  return ops;
}
