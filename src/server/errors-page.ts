/**
 * `/docs/errors` for a browser: every error code with its HTTP status, CLI exit code, meaning and
 * hint, one row each with the code as its anchor, so an error's `docs_url` (`/docs/errors#<code>`)
 * opens on its row. Clients asking for JSON get the same catalog as JSON.
 */
import { escapeHtml } from "./docs-page.js";
import type { ErrorCatalogEntry } from "./ojs.js";

export function renderErrorsPage(entries: readonly ErrorCatalogEntry[]): string {
  const rows = entries
    .map(
      (e) =>
        `<tr id="${escapeHtml(e.code)}"><td><a href="#${escapeHtml(e.code)}"><code>${escapeHtml(e.code)}</code></a></td>` +
        `<td>${e.status}</td><td>${e.exit_code}</td><td>${escapeHtml(e.meaning)}</td><td>${escapeHtml(e.hint)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>jetjob error codes</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d8dee4;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}tr:target{background:#fff8c5}code{font-size:.95em}
</style></head><body>
<h1>Error codes</h1>
<p>Every error has the body <code>{"error": {"code", "message", "retryable", "details", "request_id", "hint", "docs_url"}}</code>.
Branch on <code>code</code>, never on the message. The CLI exits with the code in the third column.
JSON: <code>curl -H 'accept: application/json' …/docs/errors</code>. API reference: <a href="/docs">/docs</a>.</p>
<table><tr><th>code</th><th>HTTP</th><th>CLI exit</th><th>meaning</th><th>what to do</th></tr>
${rows}
</table></body></html>
`;
}

/** Whether a request prefers HTML (a browser) over JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf("text/html");
  const json = accept.indexOf("application/json");
  return html >= 0 && (json < 0 || html < json);
}
