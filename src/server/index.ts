/**
 * The jetjob API server: the OJS HTTP binding and the jetjob REST API over one engine.
 * @module
 */
export { createApp } from "./app.js";
export type { App, AppOptions } from "./app.js";
export { createAuthenticator, generateToken, hasScope, loadTokensFile, Scope } from "./auth.js";
export type { Authenticator, Principal, TokenEntry } from "./auth.js";
export { listen } from "./listen.js";
export type { HttpServer } from "./listen.js";
export { OJS_MEDIA_TYPE, OJS_VERSION } from "./ojs.js";
export { runApiServer } from "./run.js";
export type { ApiServerOptions, RunningApiServer } from "./run.js";
