/**
 * What one identity may do on NATS, as the subject lists of its user JWT (auth callout, callout.ts).
 * Pure: the same lists are what docs/security.md's threat table states and what the tests check.
 *
 * An agent for host H (token T = hostToken(H)) may only:
 * - publish its own registry entry (`$KV.<p>_agents.a.T`), nothing else in that bucket;
 * - publish timeline events on its own subjects of any job (`<p>.ft.*.T`, refusals on `<p>.ft.*.T.r`),
 *   so a result for host B can never be stored by agent A: the controller also ignores an event whose
 *   `h` does not match its subject (fleet/timeline.ts);
 * - read a fleet job record it names by id (`$KV.<p>_fleet.j.<id>`: ids are 128-bit and only sent to
 *   the hosts of the job), its own drain/labels record (`w.T`) and its own last timeline event;
 * - receive its own dispatch subject (`<p>.fx.T`) and replies on its own inbox prefix (`_INBOX_T`),
 *   never another connection's replies.
 * It cannot create, purge or delete streams, consumers or buckets, nor read other subjects.
 */
import { hostToken } from "../store/infra/topology.js";
import type { ResolvedTopology } from "../store/infra/topology.js";

export interface SubjectPermissions {
  pub: string[];
  sub: string[];
}

/** The reply prefix an identity must use (its subscription right covers only this prefix). */
export function inboxPrefixFor(hostname: string): string {
  return `_INBOX_${hostToken(hostname)}`;
}

export function agentPermissions(t: ResolvedTopology, hostname: string): SubjectPermissions {
  const tok = hostToken(hostname);
  const p = t.prefix;
  const agents = t.buckets.agents;
  const fleetKv = t.buckets.fleet;
  const fleetStream = t.streams.fleet;
  return {
    pub: [
      // connectNats checks the account's JetStream (account info only: no data)
      "$JS.API.INFO",
      // opening the two buckets it uses (their configuration only)
      `$JS.API.STREAM.INFO.KV_${agents}`,
      `$JS.API.STREAM.INFO.KV_${fleetKv}`,
      `$KV.${agents}.a.${tok}`,
      `$JS.API.DIRECT.GET.KV_${fleetKv}.$KV.${fleetKv}.j.*`,
      `$JS.API.DIRECT.GET.KV_${fleetKv}.$KV.${fleetKv}.w.${tok}`,
      // watching its own control record (drain, labels): a consumer filtered on that key only
      `$JS.API.CONSUMER.CREATE.KV_${fleetKv}.*.$KV.${fleetKv}.w.${tok}`,
      `$JS.FC.KV_${fleetKv}.>`,
      `$JS.API.DIRECT.GET.${fleetStream}.${p}.ft.*.${tok}`,
      `${p}.ft.*.${tok}`,
      `${p}.ft.*.${tok}.r`,
    ],
    sub: [`${p}.fx.${tok}`, `${inboxPrefixFor(hostname)}.>`],
  };
}
