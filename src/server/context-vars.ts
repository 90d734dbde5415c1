/** Per-request values the middleware stores on the Hono context. */
declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
    /** Name of the authenticated token (never the token itself). */
    principal: string;
  }
}
export {};
