/**
 * The API reference page (`/docs`), rendered from the OpenAPI document: one self-contained HTML page
 * (inline CSS, no scripts), operations grouped by tag with a table of contents.
 */
import type {
  JsonSchema,
  OpenApiDocument,
  OpenApiMediaType,
  OpenApiMethod,
  OpenApiOperation,
  OpenApiReference,
  OpenApiResponse,
} from "./openapi-types.js";

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

interface Entry {
  method: OpenApiMethod;
  path: string;
  op: OpenApiOperation;
}

const methods: OpenApiMethod[] = ["get", "post", "put", "patch", "delete"];

export function renderDocsPage(doc: OpenApiDocument): string {
  const byTag = new Map<string, Entry[]>(doc.tags.map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of methods) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, op });
    }
  }
  const groups = [...byTag].filter(([, ops]) => ops.length > 0);
  const tagInfo = new Map(doc.tags.map((t) => [t.name, t.description]));

  const toc = groups
    .map(
      ([tag, ops]) =>
        `<li><a href="#tag-${anchor(tag)}">${escapeHtml(tag)}</a><ul>` +
        ops
          .map(
            (e) =>
              `<li><a href="#${anchor(e.op.operationId)}"><span class="m m-${e.method}">${e.method.toUpperCase()}</span> ${escapeHtml(e.path)}</a></li>`,
          )
          .join("") +
        "</ul></li>",
    )
    .join("\n");

  const sections = groups
    .map(([tag, ops]) => {
      const description = tagInfo.get(tag);
      return (
        `<section class="tag" id="tag-${anchor(tag)}"><h2>${escapeHtml(tag)}</h2>` +
        (description ? `<p>${escapeHtml(description)}</p>` : "") +
        ops.map((e) => renderOperation(doc, e)).join("\n") +
        "</section>"
      );
    })
    .join("\n");

  const title = `${doc.info.title} ${doc.info.version}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head>
<body>
<nav>
<h1>${escapeHtml(title)}</h1>
<p><a href="/openapi.json">openapi.json</a> · <a href="/docs/errors">error codes</a></p>
<ul class="toc">
${toc}
</ul>
</nav>
<main>
<header>
<h1>${escapeHtml(title)}</h1>
${paragraphs(doc.info.description)}
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}).
Error codes: <a href="/docs/errors">/docs/errors</a>.</p>
<h3>Error body</h3>
<pre>${escapeHtml(JSON.stringify(doc.components.schemas.Error ?? {}, null, 2))}</pre>
</header>
${sections}
</main>
</body>
</html>
`;
}

function renderOperation(doc: OpenApiDocument, { method, path, op }: Entry): string {
  const scope = op["x-scope"];
  const parts: string[] = [
    `<article class="op" id="${anchor(op.operationId)}">`,
    `<h3><span class="m m-${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code>` +
      ` <span class="scope scope-${escapeHtml(scope)}">${escapeHtml(scope)}</span></h3>`,
    `<p class="summary">${escapeHtml(op.summary)}</p>`,
    paragraphs(op.description.split("\n\n").slice(1).join("\n\n")),
    `<p class="opid">operationId: <code>${escapeHtml(op.operationId)}</code></p>`,
  ];

  if (op.parameters && op.parameters.length > 0) {
    parts.push(
      "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Required</th><th>Schema</th><th>Description</th></tr>",
      ...op.parameters.map(
        (p) =>
          `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${p.required ? "yes" : "no"}</td>` +
          `<td><code>${escapeHtml(schemaSummary(p.schema))}</code></td><td>${escapeHtml(p.description ?? "")}</td></tr>`,
      ),
      "</table>",
    );
  }

  if (op.requestBody) {
    const types = Object.keys(op.requestBody.content);
    const first = Object.values(op.requestBody.content)[0];
    parts.push(
      `<h4>Request body${op.requestBody.required ? "" : " (optional)"}</h4>`,
      `<p class="types">${types.map((t) => `<code>${escapeHtml(t)}</code>`).join(" ")}</p>`,
      first ? schemaBlock(doc, first) : "",
    );
  }

  parts.push("<h4>Responses</h4><table><tr><th>Status</th><th>Description</th><th>Content</th></tr>");
  for (const [status, r] of Object.entries(op.responses)) {
    const res = resolveResponse(doc, r);
    const content = Object.entries(res.content ?? {});
    const detail = content
      .map(([type, m]) => `<code>${escapeHtml(type)}</code>${isRef(m.schema) ? ` ${refLink(m.schema)}` : ""}`)
      .join(" ");
    parts.push(
      `<tr><td class="status s${status.charAt(0)}">${escapeHtml(status)}</td><td>${escapeHtml(res.description)}</td><td>${detail}</td></tr>`,
    );
  }
  parts.push("</table>");

  const [, okMedia] = Object.entries(resolveSuccess(doc, op)?.content ?? {})[0] ?? [];
  if (okMedia && isRef(okMedia.schema) && !okMedia.schema.$ref.endsWith("/Error")) {
    parts.push("<h4>Response body</h4>", schemaBlock(doc, okMedia));
  }
  parts.push("</article>");
  return parts.join("\n");
}

function resolveSuccess(doc: OpenApiDocument, op: OpenApiOperation): OpenApiResponse | undefined {
  const entry = Object.entries(op.responses).find(([s]) => s.startsWith("2"));
  return entry ? resolveResponse(doc, entry[1]) : undefined;
}

function resolveResponse(doc: OpenApiDocument, r: OpenApiResponse | OpenApiReference): OpenApiResponse {
  if (!isRef(r)) return r;
  const name = r.$ref.split("/").pop() ?? "";
  return doc.components.responses[name] ?? { description: r.$ref };
}

function schemaBlock(doc: OpenApiDocument, m: OpenApiMediaType): string {
  const schema = isRef(m.schema) ? doc.components.schemas[m.schema.$ref.split("/").pop() ?? ""] : m.schema;
  return `<pre>${escapeHtml(JSON.stringify(schema ?? m.schema, null, 2))}</pre>`;
}

function refLink(r: OpenApiReference): string {
  return `<span class="ref">${escapeHtml(r.$ref.split("/").pop() ?? r.$ref)}</span>`;
}

function isRef(v: unknown): v is OpenApiReference {
  return typeof v === "object" && v !== null && typeof (v as { $ref?: unknown }).$ref === "string";
}

/** A one-line description of a parameter's schema: `integer 1..500`, `enum a|b`, `string`. */
function schemaSummary(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return s.enum.map(String).join(" | ");
  const type = typeof s.type === "string" ? s.type : "any";
  const min = typeof s.minimum === "number" ? s.minimum : undefined;
  const max = typeof s.maximum === "number" && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
  const range = min === undefined && max === undefined ? "" : ` ${min ?? ""}..${max ?? ""}`;
  const def = s.default === undefined ? "" : ` (default ${JSON.stringify(s.default)})`;
  return `${type}${range}${def}`;
}

function paragraphs(text: string): string {
  return text
    .split(/\n\n+/)
    .filter((p) => p.trim() !== "")
    .map((p) => `<p>${code(escapeHtml(p))}</p>`)
    .join("\n");
}

/** `text` in backticks becomes <code> (the text is already escaped). */
function code(escaped: string): string {
  return escaped.replace(/`([^`]+)`/g, "<code>$1</code>");
}

function anchor(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, "-");
}

const css = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #fff; --panel: #f5f7fa; --line: #dde2ea; }
@media (prefers-color-scheme: dark) { :root { --fg: #e3e7ee; --muted: #9aa3b2; --bg: #14171c; --panel: #1d2128; --line: #2e3440; } }
* { box-sizing: border-box; }
body { margin: 0; display: flex; font: 14px/1.5 system-ui, -apple-system, Segoe UI, sans-serif; color: var(--fg); background: var(--bg); }
nav { position: sticky; top: 0; height: 100vh; overflow-y: auto; width: 320px; flex: none; padding: 16px; background: var(--panel); border-right: 1px solid var(--line); }
nav h1 { font-size: 16px; margin: 0 0 4px; }
nav ul { list-style: none; padding-left: 0; margin: 4px 0; }
nav ul ul { padding-left: 8px; font-size: 12px; }
nav > ul > li { margin-top: 8px; font-weight: 600; }
nav ul ul li { font-weight: 400; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
main { flex: 1; min-width: 0; padding: 16px 32px 64px; max-width: 1100px; }
main > header > h1 { margin-top: 0; }
a { color: #2563eb; text-decoration: none; }
a:hover { text-decoration: underline; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 40px; text-transform: capitalize; }
.op { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 16px 0; }
.op h3 { margin: 0; font-size: 15px; display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.op h4 { margin: 12px 0 4px; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.summary { font-weight: 500; margin: 6px 0 0; }
.opid { color: var(--muted); font-size: 12px; margin: 4px 0; }
.m { display: inline-block; min-width: 56px; text-align: center; border-radius: 4px; padding: 1px 6px; font: 700 11px/1.6 ui-monospace, monospace; color: #fff; }
.m-get { background: #2f7d32; } .m-post { background: #1d5fbf; } .m-put { background: #a86400; } .m-patch { background: #6a3fb5; } .m-delete { background: #b3261e; }
.scope { font-size: 11px; border-radius: 10px; padding: 0 8px; border: 1px solid var(--line); color: var(--muted); font-weight: 500; }
.scope-admin { border-color: #b3261e; color: #b3261e; } .scope-write { border-color: #a86400; color: #a86400; } .scope-public { border-color: #2f7d32; color: #2f7d32; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; overflow-x: auto; max-height: 420px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
.status { font-weight: 700; font-family: ui-monospace, monospace; }
.s2 { color: #2f7d32; } .s4 { color: #a86400; } .s5 { color: #b3261e; }
.ref { color: var(--muted); }
@media (max-width: 800px) { body { display: block; } nav { position: static; height: auto; width: auto; } main { padding: 16px; } }
`;
