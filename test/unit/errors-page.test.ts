/** `/docs/errors`: every code documented once, with status, CLI exit code and meaning; anchors match `docs_url`. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ErrorCode, exitCodeFor, httpStatusFor, JetjobError } from "../../src/core/errors.js";
import { prefersHtml, renderErrorsPage } from "../../src/server/errors-page.js";
import { errorBody, errorCatalog } from "../../src/server/ojs.js";

describe("error codes page", () => {
  it("lists every code once with its HTTP status, exit code and a meaning", () => {
    const catalog = errorCatalog();
    assert.deepEqual(catalog.map((e) => e.code).sort(), Object.values(ErrorCode).sort());
    for (const e of catalog) {
      assert.equal(e.status, httpStatusFor(e.code as ErrorCode));
      assert.equal(e.exit_code, exitCodeFor(e.code as ErrorCode));
      assert.ok(e.meaning.length > 10, `${e.code} has a meaning`);
    }
  });

  it("renders a row per code whose id is the anchor an error's docs_url points to", () => {
    const html = renderErrorsPage(errorCatalog());
    const body = errorBody(new JetjobError(ErrorCode.LeaseLost, "gone"), "req-1") as {
      error: { docs_url: string };
    };
    const anchor = body.error.docs_url.split("#")[1]!;
    assert.equal(anchor, "lease_lost");
    assert.ok(html.includes(`<tr id="${anchor}">`));
    for (const code of Object.values(ErrorCode)) assert.ok(html.includes(`id="${code}"`), code);
  });

  it("serves HTML to browsers and JSON to API clients", () => {
    assert.equal(prefersHtml("text/html,application/xhtml+xml,*/*;q=0.8"), true);
    assert.equal(prefersHtml("application/json"), false);
    assert.equal(prefersHtml("application/json, text/html"), false);
    assert.equal(prefersHtml(undefined), false);
  });
});
