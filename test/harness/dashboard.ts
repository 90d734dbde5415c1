/**
 * Test harness for the dashboard's browser tests: a real `jetjob start` in a temp data dir, Debian's
 * Chromium through playwright-core with one page open on it, the admin token's login, and a small
 * JSON client for setting up data through the API.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";

import { startJetjob } from "./cli.js";
import type { Started } from "./cli.js";

export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface Dashboard {
  dataDir: string;
  started: Started;
  /** The API and dashboard URL, e.g. http://127.0.0.1:40123 */
  api: string;
  /** The NATS URL of the `jetjob start` (its login: `natsLogin(dataDir)`). */
  nats: string;
  /** The admin token. */
  token: string;
  browser: Browser;
  /** A page 1280 × 860, not logged in yet. */
  page: Page;
  close(): Promise<void>;
}

/**
 * Starts `jetjob start` (with `startArgs`, e.g. `--no-nats-auth`) and Chromium with one page; `prefix`
 * names the temp data dir.
 */
export async function startDashboard(prefix: string, startArgs: string[] = []): Promise<Dashboard> {
  assert.ok(existsSync(chromiumPath), `chromium not found at ${chromiumPath} (apt-get install chromium)`);
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const started = await startJetjob(dataDir, startArgs);
  const { api, nats } = JSON.parse(readFileSync(join(dataDir, "endpoints.json"), "utf8")) as {
    api: string;
    nats: string;
  };
  const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  const browser = await chromium.launch({ executablePath: chromiumPath });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  return {
    dataDir,
    started,
    api,
    nats,
    token,
    browser,
    page,
    async close() {
      await browser.close();
      if (started.child.exitCode === null) {
        const exited = new Promise((r) => started.child.once("exit", r));
        started.child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Logs `page` in with `token` and waits for the overview. */
export async function logIn(page: Page, api: string, token: string): Promise<void> {
  await page.goto(api);
  await page.fill("input[name=token]", token);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("h1:has-text('Overview')");
}
