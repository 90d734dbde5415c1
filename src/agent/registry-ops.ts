/**
 * The operations one agent offers: the built-in ones (unless turned off) and the user's handlers,
 * behind one `invoke(args, job)` shape. A user handler with a built-in's name replaces it.
 */
import { z } from "zod";

import type { ArgsSchema } from "../fleet/args.js";
import { normalizeArgs } from "../fleet/args.js";
import { defaultOperationKind } from "../fleet/kinds.js";
import type { OperationKind } from "../fleet/types.js";
import type { AgentOpsConfig } from "./ops/index.js";
import { builtinOperations, defaultAgentOpsConfig, runOperation } from "./ops/index.js";
import type { AgentJobContext, AgentOptions } from "./types.js";

export interface AgentOp {
  name: string;
  kind: OperationKind;
  description: string;
  /** Published in the registry; the API checks a job's arguments against it before dispatch. */
  argsSchema?: ArgsSchema;
  invoke(
    args: unknown,
    job: AgentJobContext,
    output?: (stream: "stdout" | "stderr", chunk: Buffer) => void,
  ): Promise<unknown>;
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
        ...optional("argsSchema", publishedSchema(op.args)),
        invoke: (args, job, output) =>
          runOperation(op, args, {
            signal: job.signal,
            hostname,
            config,
            ...(output === undefined ? {} : { output }),
          }),
      });
    }
  }
  for (const [name, h] of Object.entries(o.handlers ?? {})) {
    const def = typeof h === "function" ? { handler: h } : h;
    const args = def.args;
    ops.set(name, {
      name,
      kind: def.kind ?? defaultOperationKind(name),
      description: def.description ?? "",
      ...(args === undefined ? {} : { argsSchema: args }),
      // With a schema, the handler gets the arguments as the schema describes them (`[obj]` → `obj`).
      invoke: (raw, job) =>
        Promise.resolve().then(() =>
          def.handler(args === undefined ? job : { ...job, args: normalizeArgs(raw) }),
        ),
    });
  }
  return ops;
}

/** A built-in's zod schema as JSON Schema (what it accepts as input); none if it cannot be expressed. */
function publishedSchema(schema: z.ZodType): ArgsSchema | undefined {
  try {
    const { $schema: _draft, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
    return rest;
  } catch {
    return undefined;
  }
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}
