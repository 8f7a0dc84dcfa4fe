import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Every response's security headers: nothing but pipgate's own scripts, styles and connections (no inline
 * code, so an escaped-but-missed string still cannot run), no framing, no referrer beyond this console, no caching of audit data.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on its own form posts
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** The Host and Origin values this console answers to: its own address, loopback names for a loopback bind, and extras configured. */
export interface OriginPolicy {
  hosts: ReadonlySet<string>;
  origins: ReadonlySet<string>;
}

export type GuardResult = { ok: true } | { ok: false; status: number; message: string };

/**
 * The DNS-rebinding and cross-site checks, as the MCP endpoint makes them: the Host header must name this
 * server; an Origin, when sent, must be this server's; and a state-changing request a browser marks as
 * cross-site (Sec-Fetch-Site) is refused even without an Origin.
 */
export function checkRequest(req: IncomingMessage, policy: OriginPolicy): GuardResult {
  const host = (req.headers.host ?? "").toLowerCase();
  if (!policy.hosts.has(host)) return { ok: false, status: 403, message: `Host ${JSON.stringify(host)} is not this console` };
  const origin = req.headers.origin;
  if (origin !== undefined && !policy.origins.has(origin.toLowerCase())) {
    return { ok: false, status: 403, message: `Origin ${JSON.stringify(origin)} is not this console: cross-origin requests are refused` };
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    const site = req.headers["sec-fetch-site"];
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      return { ok: false, status: 403, message: `a ${String(site)} request may not change anything here` };
    }
  }
  return { ok: true };
}

/** Sends a whole response with the security headers; a response already started is left alone. */
export function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "content-length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/** A redirect after a form (303: the browser follows with GET). Only ever to a path of this console. */
export function redirect(res: ServerResponse, path: string, headers: Record<string, string> = {}): void {
  const location = path.startsWith("/") && !path.startsWith("//") ? path : "/";
  send(res, 303, "text/plain; charset=utf-8", `see ${location}`, { location, ...headers });
}
