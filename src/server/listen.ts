/**
 * Binding the app to a port with Node's HTTP server, and closing it gracefully.
 */
import type { AddressInfo } from "node:net";

import { serve } from "@hono/node-server";

import { BackendError } from "../core/errors.js";
import type { App } from "./app.js";

export interface HttpServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** Stops accepting connections and waits for open requests (at most `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

export async function listen(app: App, options: { port?: number; host?: string } = {}): Promise<HttpServer> {
  const host = options.host ?? "127.0.0.1";
  return new Promise<HttpServer>((resolve, reject) => {
    const server = serve(
      { fetch: app.hono.fetch, port: options.port ?? 0, hostname: host },
      (info: AddressInfo) => {
        const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
        resolve({
          url: `http://${shownHost}:${info.port}`,
          port: info.port,
          close: (graceMs = 5000) =>
            new Promise<void>((res) => {
              const timer = setTimeout(() => {
                if ("closeAllConnections" in server) server.closeAllConnections();
                res();
              }, graceMs);
              timer.unref();
              if ("closeIdleConnections" in server) server.closeIdleConnections();
              server.close(() => {
                clearTimeout(timer);
                res();
              });
            }),
        });
      },
    );
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        new BackendError(
          err.code === "EADDRINUSE"
            ? `port ${options.port} is already in use on ${host}`
            : `cannot listen: ${err.message}`,
          { cause: err, hint: err.code === "EADDRINUSE" ? "Pick another port with --port." : undefined },
        ),
      );
    });
  });
}
