// @ts-check
// The REST API, called with the user's token. The token stays in the browser (sessionStorage, or
// localStorage with "remember"); every request sends it as a bearer token, and live streams (SSE)
// pass it as ?access_token= (see live.js).

const key = "jetjob.token";
/** @type {string | null} */
let token = localStorage.getItem(key) ?? sessionStorage.getItem(key);

/** The token the dashboard calls the API with, or null before login. */
export const currentToken = () => token;

/** Keeps a token that the server accepted. @param {string} t @param {boolean} remember */
export function saveToken(t, remember) {
  token = t;
  (remember ? localStorage : sessionStorage).setItem(key, t);
}

/** Forgets the token everywhere. */
export function forgetToken() {
  token = null;
  localStorage.removeItem(key);
  sessionStorage.removeItem(key);
}

/** @type {(message: string) => void} */
let onRefused = () => undefined;
/** What to do when the server refuses the token (401): app.js logs out. @param {(message: string) => void} fn */
export function whenRefused(fn) {
  onRefused = fn;
}

/** An error answer of the API: its HTTP status and the error's stable code. */
export class ApiError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    /** @type {string | undefined} */
    this.code = body?.error?.code;
    /** @type {Record<string, unknown> | undefined} */
    this.details = body?.error?.details;
    /** @type {string | undefined} */
    this.hint = body?.error?.hint;
  }
}

/** Counts the views shown; a call answers only while the view that made it is still shown. */
let view = 0;

/**
 * A new view starts (router): answers to calls an earlier view made never settle, so a slow read
 * of the page left behind cannot render over the new page.
 */
export function nextView() {
  view++;
}

/** @returns {Promise<never>} */
const never = () => new Promise(() => undefined);

/**
 * Calls the API and answers the parsed JSON body (untyped: each view reads the fields it shows).
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const mine = view;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (mine !== view) return never();
  const parsed = text ? JSON.parse(text) : undefined;
  if (res.status === 401) {
    onRefused("Your token was refused; log in again.");
    throw new ApiError(401, parsed);
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed;
}
