/**
 * The client SDK: enqueue, read, cancel and wait for jobs. Two transports with one behaviour:
 * HTTP (`url` + `token`, through the API server) or NATS (`nats`, straight to JetStream with no HTTP
 * hop: the fast path for services inside the NATS network).
 *
 * @example
 * ```ts
 * const client = createClient<{ "email.send": [to: string] }>({ url: "http://127.0.0.1:8080", token });
 * const job = await client.enqueue("email.send", ["ada@example.com"], { queue: "mail" });
 * const done = await client.waitFor(job.id);
 * ```
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { ErrorCode, JetjobError } from "../core/errors.js";
import { isTerminal } from "../core/states.js";
import type { ConnectOptions } from "../nats/connect.js";
import type { TopologyOptions } from "../store/topology.js";
import { createHttpTransport } from "./http.js";
import { createNatsTransport } from "./nats.js";
import type { EnqueueOptions, Job, JobTypes } from "./types.js";
import { toEnqueueBody } from "./wire.js";

export interface ClientOptions {
  /** API base URL, e.g. `http://127.0.0.1:8080` (HTTP transport). */
  url?: string;
  /** Bearer token for the API. */
  token?: string;
  /** NATS URL or an open connection (NATS transport). */
  nats?: string | NatsConnection;
  /** Extra NATS connection options (credentials, name). */
  natsOptions?: Omit<ConnectOptions, "servers">;
  /** Must match the server's topology (prefix, replicas). */
  topology?: TopologyOptions;
  /** Per-request timeout. @defaultValue 30000 */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** @defaultValue 60000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Client<T extends JobTypes = JobTypes> {
  enqueue<K extends keyof T & string>(type: K, args: T[K], options?: EnqueueOptions): Promise<Job<T[K]>>;
  /** Enqueues all of the jobs or none of them. */
  enqueueMany(
    jobs: Array<{ type: keyof T & string; args: unknown[]; options?: EnqueueOptions }>,
  ): Promise<Job[]>;
  get(id: string): Promise<Job>;
  cancel(id: string): Promise<Job>;
  /** Resolves with the job once it is completed, cancelled or discarded. */
  waitFor(id: string, options?: WaitOptions): Promise<Job>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** @internal the operations each transport provides */
export interface Transport {
  enqueue(bodies: Record<string, unknown>[], atomic: boolean): Promise<Job[]>;
  get(id: string): Promise<Job>;
  cancel(id: string): Promise<Job>;
  close(): Promise<void>;
}

export function createClient<T extends JobTypes = JobTypes>(options: ClientOptions): Client<T> {
  if (options.url === undefined && options.nats === undefined) {
    throw new JetjobError(
      ErrorCode.InvalidRequest,
      "createClient needs `url` (HTTP API) or `nats` (NATS URL or connection)",
    );
  }
  const transport: Transport =
    options.nats !== undefined ? createNatsTransport(options) : createHttpTransport(options.url!, options);

  const client: Client<T> = {
    async enqueue(type, args, o) {
      const [job] = await transport.enqueue([toEnqueueBody(type, args, o)], false);
      return job as Job<T[typeof type]>;
    },
    enqueueMany(jobs) {
      return transport.enqueue(
        jobs.map((j) => toEnqueueBody(j.type, j.args, j.options)),
        true,
      );
    },
    get: (id) => transport.get(id),
    cancel: (id) => transport.cancel(id),
    async waitFor(id, o = {}) {
      const deadline = Date.now() + (o.timeoutMs ?? 60_000);
      let pause = 5;
      for (;;) {
        o.signal?.throwIfAborted();
        const job = await transport.get(id);
        if (isTerminal(job.state)) return job;
        if (Date.now() > deadline) {
          throw new JetjobError(ErrorCode.Timeout, `job ${id} did not finish in time (state ${job.state})`);
        }
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 250);
      }
    },
    close: () => transport.close(),
    [Symbol.asyncDispose]: () => transport.close(),
  };
  return client;
}
