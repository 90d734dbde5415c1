/**
 * Connecting with a transport that writes once per event-loop turn.
 *
 * The NATS client flushes what it has to send at the end of every task (a microtask). A server
 * answering many HTTP requests runs one task per request, so each request's publish or journal
 * append became a socket write of its own: in the HTTP door's end-to-end load one write per job, the
 * largest single cost measured (a loopback TCP write runs the receiving side's stack in the sender's
 * system call). Here the socket is corked at the first write of a turn and uncorked when the turn's
 * I/O callbacks are done (`setImmediate`), so all of the turn's frames leave in one `writev`, in the
 * order they were sent. Nothing waits longer than the turn it was sent in.
 *
 * The client's own `connect` (transport-node) installs its transport factory, which is global, on
 * every call; this one installs the coalescing transport instead and connects the same way. It is
 * jetjob's only way to open a NATS connection (connect.ts, access/system.ts), so reconnects, which
 * take the factory installed last, get the same transport.
 */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { NatsConnectionImpl, setTransportFactory } from "@nats-io/nats-core/internal";
import { NodeTransport, nodeResolveHost } from "@nats-io/transport-node/lib/node_transport.js";

class CoalescingTransport extends NodeTransport {
  #corked = false;

  override send(frame: Uint8Array): void {
    const socket = this.socket;
    if (!this.#corked && !this.isClosed) {
      this.#corked = true;
      socket.cork();
      setImmediate(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    super.send(frame);
  }

  /**
   * The client closes its transport without flushing it, and a destroyed socket drops what it still
   * buffers: what this turn sent (a publish just before `close()`) is written first, as the client's
   * own transport has written it by then.
   */
  override close(err?: Error): Promise<void> {
    if (this.#corked) {
      this.#corked = false;
      this.socket.uncork();
    }
    return super.close(err);
  }
}

/** Opens a NATS connection whose writes are coalesced per event-loop turn. */
export function connectCoalescing(opts: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new CoalescingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
}
