/**
 * Every fleet timing in one place, with units in the names. Controllers, agents and the CLI read
 * their defaults from here; tests and deployments override single fields.
 */

export interface FleetTimings {
  /** A target that has neither acknowledged nor answered this long after dispatch is sent the job once more. */
  ackWindowMs: number;
  /** Job deadline when the request names none. */
  defaultTimeoutMs: number;
  /** Longest deadline a request may ask for. */
  maxTimeoutMs: number;
  /** How often a controller announces that it is alive. */
  controllerHeartbeatMs: number;
  /** A controller (or agent) that missed this many heartbeats counts as gone. */
  livenessMisses: number;
  /** How often each controller looks for running jobs whose owner is gone. */
  reclaimScanMs: number;
  /** Scans in a row that must find the owner gone before a job is taken over. */
  reclaimAfterMisses: number;
  /** A job taken over more often than this is finished as failed instead. */
  reclaimCap: number;
  /** How often a running job's owner checks that its targets' agents are still alive. */
  livenessCheckMs: number;
  /**
   * A pick-one job (`any`, `role:web:any`) whose agent does not acknowledge within the ack window is
   * moved to another candidate, at most this many times, before the controller gives up on it.
   */
  failoverTries: number;
}

export const fleetDefaults: FleetTimings = {
  ackWindowMs: 3_000,
  defaultTimeoutMs: 60_000,
  maxTimeoutMs: 24 * 3600_000,
  controllerHeartbeatMs: 2_000,
  livenessMisses: 3,
  reclaimScanMs: 3_000,
  reclaimAfterMisses: 2,
  reclaimCap: 3,
  livenessCheckMs: 1_000,
  failoverTries: 3,
};

export interface AgentTimings {
  /** How often an agent refreshes its registry entry (with running jobs and state). */
  heartbeatMs: number;
  /** How long `close()` waits for running jobs before abandoning them. */
  shutdownTimeoutMs: number;
}

export const agentDefaults: AgentTimings = {
  heartbeatMs: 5_000,
  shutdownTimeoutMs: 30_000,
};

/** Limits on what a targeted job may carry. */
export const fleetLimits = {
  maxArgsBytes: 256 * 1024,
  maxResultBytes: 512 * 1024,
  maxOperationLength: 128,
  operationPattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
} as const;

/** Whether an entry written `ageMs` ago by something that beats every `heartbeatMs` is still alive. */
export function isAlive(
  ageMs: number,
  heartbeatMs: number,
  misses: number = fleetDefaults.livenessMisses,
): boolean {
  return ageMs < heartbeatMs * misses;
}
