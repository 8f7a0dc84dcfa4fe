import { escapeHtml as esc } from "../audit/html.js";
import type { GrantRole } from "../config/grants-schema.js";

/** Who is looking at a page, and the token their forms must carry (none for a bearer-token client). */
export interface Viewer {
  grant: string;
  role: GrantRole;
  csrf: string | undefined;
}

const NAV: ReadonlyArray<[string, string]> = [
  ["/log", "Audit log"],
  ["/chain", "Chain"],
  ["/approvals", "Approvals"],
  ["/environments", "Environments"],
];

/**
 * The one page frame every view renders into. Scripts and styles come from pipgate itself (/assets/…), so
 * the CSP can say `default-src 'self'` with nothing inline; every string passed in is escaped by the caller.
 */
export function page(opts: { title: string; viewer?: Viewer; body: string; refreshSeconds?: number; active?: string }): string {
  const viewer = opts.viewer;
  const nav =
    viewer === undefined
      ? ""
      : `<nav aria-label="Console"><ul>${NAV.map(
          ([href, label]) => `<li><a href="${href}"${opts.active === href ? ' aria-current="page"' : ""}>${label}</a></li>`,
        ).join("")}</ul>
<div class="who">signed in as <strong id="who">${esc(viewer.grant)}</strong> (${esc(viewer.role)})${
          viewer.csrf === undefined
            ? ""
            : `<form method="post" action="/logout" class="inline">${csrfField(viewer)}<button type="submit">Sign out</button></form>`
        }</div></nav>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${opts.refreshSeconds === undefined ? "" : `<meta http-equiv="refresh" content="${opts.refreshSeconds}" data-refresh="${opts.refreshSeconds}">`}
<title>${esc(opts.title)} · pipgate console</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
</head>
<body>
<header><a class="brand" href="/log">pipgate console</a>${nav}</header>
<main>
<h1>${esc(opts.title)}</h1>
${opts.body}
</main>
</body>
</html>
`;
}

/** The hidden field a state-changing form carries; the server compares it with the session's. */
export function csrfField(viewer: Viewer): string {
  return viewer.csrf === undefined ? "" : `<input type="hidden" name="csrf" value="${esc(viewer.csrf)}">`;
}

/** A notice above a view: what went wrong, in words, as text. */
export function notice(kind: "error" | "ok", text: string): string {
  return `<p class="notice ${kind}" role="${kind === "error" ? "alert" : "status"}">${esc(text)}</p>`;
}

/** A time as text, and machine-readable for the browser. */
export function time(iso: string): string {
  return `<time datetime="${esc(iso)}">${esc(iso.replace("T", " ").replace(/\.\d+Z$/, "Z"))}</time>`;
}

/** A value from a record shown as indented JSON, escaped: for fields whose shape the record does not promise. */
export function jsonBlock(value: unknown, maxChars = 20_000): string {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? "undefined";
  } catch {
    text = String(value);
  }
  if (text.length > maxChars) text = `${text.slice(0, maxChars)}\n… (${text.length - maxChars} more characters)`;
  return `<pre class="json">${esc(text)}</pre>`;
}
