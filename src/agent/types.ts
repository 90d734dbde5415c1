/** Options and handler types of the fleet agent (`createAgent`). */
import type { NatsConnection } from "@nats-io/nats-core";

import type { Logger } from "../core/logger.js";
import type { ConnectOptions } from "../nats/connect.js";
import type { TopologyOptions } from "../store/infra/topology.js";
import type { AgentTimings } from "../fleet/options.js";
import type { OperationKind } from "../fleet/types.js";
import type { AgentOpsConfig } from "./ops/index.js";

/** What a fleet handler gets. */
export interface AgentJobContext {
  /** The fleet job's id. */
  id: string;
  op: string;
  args: unknown;
  /** This agent's hostname. */
  hostname: string;
  /** The dispatch epoch (grows when another controller takes the job over). */
  epoch: number;
  deadline: Date;
  /** Aborted on cancel, at the deadline, or when the agent is forced to stop. */
  signal: AbortSignal;
  /** W3C trace context of the request that created the job, when there was one. */
  traceparent?: string;
  /**
   * Reports progress (any JSON value, e.g. `{ done: 3, of: 10 }`): stored on the job's timeline while
   * it runs (batched; the newest shows in `jetjob job watch`, the live table and the dashboard).
   */
  progress(data: unknown): void;
  /** Writes a line of output to the job's timeline while it runs (bounded, like command output). */
  log(line: string, stream?: "stdout" | "stderr"): void;
}

export type AgentHandler = (job: AgentJobContext) => unknown;

/** A user operation: a handler, and whether it only reads (`query`) or changes the host (`modify`). */
export interface AgentOperation {
  handler: AgentHandler;
  /** @defaultValue from the name: `.get`/`.list`/`.status`… are queries, anything else modifies */
  kind?: OperationKind;
  description?: string;
  /**
   * JSON Schema (draft 2020-12) of the arguments, e.g. `{ type: "object", properties: { n: { type:
   * "integer" } }, required: ["n"] }`. Published in the registry: the API refuses a job whose
   * arguments do not match (400) before it is sent. With a schema, `job.args` is the object itself
   * (`[obj]` and no arguments arrive as `obj` and `{}`).
   */
  args?: Record<string, unknown>;
}

export interface AgentOptions {
  /** NATS URL(s), comma-separated, or an open connection (shared connections are left open by `close()`). */
  nats: string | NatsConnection;
  natsOptions?: Omit<ConnectOptions, "servers">;
  /** @defaultValue the OS hostname */
  hostname?: string;
  /** Labels such as `{ group: "web.dev.us-east", role: "web" }` or `["group:web.dev", "role:web"]`. */
  labels?: Record<string, string> | string[];
  /** Facts added to (and overriding) the ones gathered from the OS. */
  facts?: Record<string, string | number | boolean>;
  /** User operations by name. */
  handlers?: Record<string, AgentHandler | AgentOperation>;
  /** Offer the built-in `system.*` and `network.*` operations. @defaultValue true */
  builtins?: boolean;
  /** Settings of the built-in operations (`command.exec` is off unless enabled here). */
  ops?: Partial<AgentOpsConfig>;
  /** Jobs run at the same time. @defaultValue 8 */
  concurrency?: number;
  /** Also take OJS queue jobs of these queues, with the same operations as job types. */
  queues?: string[];
  /**
   * The agent logs in as its own NATS identity (`jetjob agent --enroll`): its queue worker takes
   * and reports jobs through the API servers' relay, on the queues the operator granted it
   * (docs/security.md). @defaultValue false (the shared login: NATS-direct)
   */
  queuesViaRelay?: boolean;
  timings?: Partial<AgentTimings>;
  topology?: TopologyOptions;
  logger?: Logger;
  /** Aborting it stops the agent (same as `close()`). */
  signal?: AbortSignal;
  /** Stop gracefully (finish or hand back in-flight jobs) on SIGTERM and SIGINT. @defaultValue true */
  handleSignals?: boolean;
  /** Reported in the registry. */
  version?: string;
}
