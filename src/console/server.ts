import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { escapeHtml as esc } from "../audit/html.js";
import { errorMessage, type Result } from "../errors.js";
import { bearerToken } from "../grants/tokens.js";
import type { Decided } from "../pipeline/approval-queue.js";
import { readBoundedBody } from "../server/http-body.js";
import { hostPort, isLoopback, listenNamed, type ListenAddress } from "../server/http.js";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.js";
import type { ConsoleDeps } from "./deps.js";
import { parseFilter } from "./filters.js";
import { checkRequest, redirect, send, type OriginPolicy } from "./guard.js";
import { notice, page, type Viewer } from "./layout.js";
import {
  clearedCookie,
  ConsoleSessions,
  cookieValue,
  DEFAULT_SESSION_LIMITS,
  sameSecret,
  SESSION_COOKIE,
  sessionCookie,
  type SessionLimits,
} from "./sessions.js";
import { mayDecide, renderApprovals } from "./view-approvals.js";
import { renderChain } from "./view-chain.js";
import { renderEnvironments } from "./view-environments.js";
import { logRow, newestRows, renderLog } from "./view-log.js";
import { renderRecord } from "./view-record.js";

export interface ConsoleOptions {
  listen: ListenAddress;
  /** Binding anything but loopback needs this, on purpose (and TLS in front). */
  allowRemote?: boolean;
  /** Further Host header values to accept (a reverse proxy's name). */
  allowedHosts?: readonly string[];
  /** Further browser origins to accept (the proxy's https://name). */
  allowedOrigins?: readonly string[];
  /** Mark the session cookie Secure: on by default for a non-loopback bind, which must sit behind TLS. */
  secureCookies?: boolean;
  sessions?: Partial<SessionLimits>;
}

export interface ConsoleServer {
  /** the console's base URL, e.g. http://127.0.0.1:8766/ */
  url: string;
  /** open browser sessions, for tests */
  sessionCount(): number;
  /** resolves once every approved install started here has finished */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";
const MAX_FORM_BYTES = 16 * 1024;
const MAX_REASON = 1000;
/** The most approved installs running at once from this console; a person clicking faster waits. */
const MAX_RUNNING = 4;

/** Who a request comes from: a viewer, or why not (401 without credentials, 403 for a grant that is no auditor or approver). */
type Identified =
  { ok: true; viewer: Viewer; via: "bearer" | "session"; sessionId?: string } | { ok: false; status: 401 | 403; message: string; invalidToken?: boolean };

/**
 * `pipgate console --http`: a server-rendered web application over the audit log, the approval queue and the
 * environments, on node:http. Auditors read; approvers also decide queued installs. A browser signs in with
 * its grant's token once and gets a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS); scripts
 * and API clients send the token as a bearer header. Every form carries the session's CSRF token; Host and
 * Origin are checked as the MCP endpoint checks them; every page is served under a strict CSP and every
 * string from a record is escaped.
 */
export async function startConsole(deps: ConsoleDeps, options: ConsoleOptions): Promise<Result<ConsoleServer>> {
  const { listen, log } = { listen: options.listen, log: deps.log };
  if (!isLoopback(listen.host) && options.allowRemote !== true) {
    return {
      ok: false,
      error: `refusing to listen on ${listen.host}, which is not a loopback address; pass --allow-remote if that is really meant (and put TLS in front)`,
    };
  }
  const secure = options.secureCookies ?? !isLoopback(listen.host);
  const sessions = new ConsoleSessions({ ...DEFAULT_SESSION_LIMITS, ...options.sessions }, () => deps.now().getTime());
  const hosts = new Set<string>();
  const origins = new Set<string>((options.allowedOrigins ?? []).map((o) => o.toLowerCase()));
  const policy: OriginPolicy = { hosts, origins };
  const running = new Set<Promise<unknown>>();

  function identify(req: IncomingMessage): Identified {
    const header = req.headers.authorization;
    let grant: string | undefined;
    let via: "bearer" | "session";
    let sessionId: string | undefined;
    let csrf: string | undefined;
    if (header !== undefined) {
      const token = bearerToken(header);
      grant = token === undefined ? undefined : deps.grantForToken(token);
      if (grant === undefined) return { ok: false, status: 401, message: "the bearer token opens no grant", invalidToken: true };
      via = "bearer";
    } else {
      const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
      const session = id === undefined ? undefined : sessions.get(id);
      if (session === undefined)
        return { ok: false, status: 401, message: id === undefined ? "sign in with an auditor's or approver's token" : "your session ended; sign in again" };
      grant = session.grant;
      sessionId = session.id;
      csrf = session.csrf;
      via = "session";
    }
    const role = deps.roleFor(grant);
    if (role !== "auditor" && role !== "approver") {
      return { ok: false, status: 403, message: `grant ${grant} has role ${role ?? "none"}; the console is for grants whose role is auditor or approver` };
    }
    return { ok: true, viewer: { grant, role, csrf }, via, ...(sessionId === undefined ? {} : { sessionId }) };
  }

  function loginPage(message?: string): string {
    return page({
      title: "Sign in",
      body:
        (message === undefined ? "" : notice("error", message)) +
        `<form method="post" action="/login" class="login"><label>Token of a grant whose role is auditor or approver` +
        `<input type="password" name="token" autocomplete="off" required maxlength="512" id="token"></label><button type="submit">Sign in</button></form>` +
        `<p class="muted">The token is checked against the grants' token_sha256 in pipgate.yaml, and exchanged for a session cookie.</p>`,
    });
  }

  function refuseIdentity(req: IncomingMessage, res: ServerResponse, who: Extract<Identified, { ok: false }>, api: boolean): void {
    const challenge = who.invalidToken === true ? 'Bearer realm="pipgate console", error="invalid_token"' : 'Bearer realm="pipgate console"';
    const headers: Record<string, string> = who.status === 401 ? { "www-authenticate": challenge } : {};
    if (api || req.headers.authorization !== undefined) return send(res, who.status, JSON_TYPE, JSON.stringify({ error: who.message }), headers);
    send(res, who.status, HTML, who.status === 401 ? loginPage(who.message) : page({ title: "Not allowed", body: notice("error", who.message) }), headers);
  }

  /** A form's fields, or undefined when a refusal was sent (too large, not a form). */
  async function readForm(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> {
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded") {
      send(res, 415, JSON_TYPE, JSON.stringify({ error: "send the form as application/x-www-form-urlencoded" }));
      return undefined;
    }
    const read = await readBoundedBody(req, MAX_FORM_BYTES);
    if (!read.ok) {
      if (read.reason === "too-large")
        send(res, 413, JSON_TYPE, JSON.stringify({ error: `a form is at most ${MAX_FORM_BYTES} bytes` }), { connection: "close" });
      return undefined;
    }
    return new URLSearchParams(read.body.toString("utf8"));
  }

  /** A cookie session's form must echo its CSRF token; a bearer client sends no cookie a page could borrow. */
  function csrfOk(who: Extract<Identified, { ok: true }>, form: URLSearchParams): boolean {
    if (who.via === "bearer") return true;
    const given = form.get("csrf");
    return given !== null && who.viewer.csrf !== undefined && sameSecret(given, who.viewer.csrf);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req, res);
    if (form === undefined) return;
    const token = (form.get("token") ?? "").trim();
    const grant = token === "" ? undefined : deps.grantForToken(token);
    if (grant === undefined) return send(res, 401, HTML, loginPage("that token opens no grant"), { "www-authenticate": 'Bearer realm="pipgate console"' });
    const role = deps.roleFor(grant);
    if (role !== "auditor" && role !== "approver") {
      return send(res, 403, HTML, loginPage(`grant ${grant} has role ${role ?? "none"}; the console is for grants whose role is auditor or approver`));
    }
    const old = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (old !== undefined) sessions.delete(old);
    const session = sessions.create(grant);
    log.info({ grant, role }, "console sign-in");
    redirect(res, "/log", { "set-cookie": sessionCookie(session.id, sessions.maxAgeSeconds, secure) });
  }

  async function decide(req: IncomingMessage, res: ServerResponse, who: Extract<Identified, { ok: true }>, id: string): Promise<void> {
    const viewer = who.viewer;
    const form = await readForm(req, res);
    if (form === undefined) return;
    if (!csrfOk(who, form))
      return send(
        res,
        403,
        HTML,
        page({ title: "Refused", viewer, body: notice("error", "the form's CSRF token is missing or wrong; reload the page and try again") }),
      );
    if (!mayDecide(viewer)) {
      return send(
        res,
        403,
        HTML,
        page({ title: "Not allowed", viewer, body: notice("error", `grant ${viewer.grant} is an auditor: only an approver decides queued installs`) }),
      );
    }
    const queue = deps.approvals;
    const answer = async (status: number, text: string) => {
      const view = await renderApprovals(deps, viewer, { kind: "error", text });
      send(res, status, HTML, page({ title: "Approvals", viewer, body: view.body, active: "/approvals" }));
    };
    if (queue === undefined) return answer(404, "the policy has no approval section; nothing is queued");
    const reason = (form.get("reason") ?? "").trim();
    const decision = form.get("decision");
    if (reason === "") return answer(400, "a reason is required: it is recorded with your name and shown to the agent");
    if (reason.length > MAX_REASON) return answer(400, `a reason is at most ${MAX_REASON} characters`);
    if (decision !== "approve" && decision !== "deny") return answer(400, "decide approve or deny");
    if (decision === "deny") {
      const denied = await queue.reject(id, viewer.grant, reason);
      if (!denied.ok) return answer(409, denied.error);
      return redirect(res, `/approvals#${encodeURIComponent(id)}`);
    }
    if (running.size >= MAX_RUNNING) return answer(503, `${MAX_RUNNING} approved installs are running already; try again when one has finished`);
    // The install runs here, in the background, once approve() has stored the decision (its `decided` hook);
    // the page shows it running until it ends (a browser request would outlive its timeout).
    let onDecided = (): void => undefined;
    const decided = new Promise<undefined>((resolve) => (onDecided = () => resolve(undefined)));
    const task = queue.approve(id, viewer.grant, reason, { decided: () => onDecided() });
    const tracked: Promise<unknown> = task
      .then((decided) => log.info({ approval: id, by: viewer.grant, ok: decided.ok, state: decided.approval?.state }, "console approval finished"))
      .catch((error: unknown) => log.error({ approval: id, err: errorMessage(error) }, "console approval failed"))
      .finally(() => running.delete(tracked));
    running.add(tracked);
    const early: Decided | undefined = await Promise.race([task, decided]);
    if (early !== undefined && !early.ok) return answer(409, early.error);
    redirect(res, `/approvals#${encodeURIComponent(id)}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const guard = checkRequest(req, policy);
    if (!guard.ok) return send(res, guard.status, JSON_TYPE, JSON.stringify({ error: guard.message }));
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";

    if (method === "GET" && path === "/assets/console.css") return send(res, 200, "text/css; charset=utf-8", CONSOLE_CSS);
    if (method === "GET" && path === "/assets/console.js") return send(res, 200, "text/javascript; charset=utf-8", CONSOLE_JS);
    if (method === "GET" && path === "/favicon.ico") return send(res, 204, "text/plain", "");
    if (path === "/login") {
      if (method === "GET") return send(res, 200, HTML, loginPage());
      if (method === "POST") return login(req, res);
      return send(res, 405, JSON_TYPE, JSON.stringify({ error: "GET or POST" }), { allow: "GET, POST" });
    }

    const api = path.startsWith("/api/");
    const who = identify(req);
    if (!who.ok) return refuseIdentity(req, res, who, api);
    const viewer = who.viewer;

    if (method === "POST") {
      if (path === "/logout") {
        const form = await readForm(req, res);
        if (form === undefined) return;
        if (!csrfOk(who, form))
          return send(res, 403, HTML, page({ title: "Refused", viewer, body: notice("error", "the form's CSRF token is missing or wrong") }));
        if (who.sessionId !== undefined) sessions.delete(who.sessionId);
        return redirect(res, "/login", { "set-cookie": clearedCookie(secure) });
      }
      const decideMatch = /^\/approvals\/(apr_[a-z0-9]{1,40})$/.exec(path);
      if (decideMatch !== null) return decide(req, res, who, decideMatch[1]!);
      return send(res, 404, JSON_TYPE, JSON.stringify({ error: `nothing to POST at ${path}` }));
    }
    if (method !== "GET" && method !== "HEAD") return send(res, 405, JSON_TYPE, JSON.stringify({ error: "GET, or POST a form" }), { allow: "GET, POST" });

    const now = deps.now();
    if (path === "/" || path === "") return redirect(res, "/log");
    if (path === "/log" || path === "/api/records") {
      const filter = parseFilter(url.searchParams, now);
      if (api) {
        if (!filter.ok) return send(res, 400, JSON_TYPE, JSON.stringify({ error: filter.error }));
        const afterText = url.searchParams.get("after");
        const after = afterText === null ? undefined : Number(afterText);
        if (after !== undefined && (!Number.isInteger(after) || after < 0))
          return send(res, 400, JSON_TYPE, JSON.stringify({ error: "after: a record's seq" }));
        const records = (await newestRows(deps, filter.value, after)).map(logRow);
        // newest first: the next poll asks for what came after the newest sent (a burst beyond ROW_CAP is cut, bounded)
        const last = Math.max(after ?? 0, records[0]?.seq ?? 0);
        return send(res, 200, JSON_TYPE, JSON.stringify({ records, last }));
      }
      const body = filter.ok
        ? await renderLog(deps, filter.value)
        : await renderLog(deps, { audit: {}, kind: undefined, given: {}, since: undefined, until: undefined }, filter.error);
      return send(res, filter.ok ? 200 : 400, HTML, page({ title: "Audit log", viewer, body, active: "/log" }));
    }
    const recordMatch = /^\/records\/([A-Za-z0-9_-]{1,80})$/.exec(path);
    if (recordMatch !== null) {
      const view = await renderRecord(deps, recordMatch[1]!);
      return send(res, view.status, HTML, page({ title: view.title, viewer, body: view.body, active: "/log" }));
    }
    if (path === "/chain")
      return send(
        res,
        200,
        HTML,
        page({ title: "Chain", viewer, body: await renderChain(deps, url.searchParams.get("head")?.trim() || undefined), active: "/chain" }),
      );
    if (path === "/api/chain") return send(res, 200, JSON_TYPE, JSON.stringify(await deps.audit.verify()));
    if (path === "/approvals") {
      const view = await renderApprovals(deps, viewer);
      return send(res, 200, HTML, page({ title: "Approvals", viewer, body: view.body, active: "/approvals", ...(view.running ? { refreshSeconds: 2 } : {}) }));
    }
    if (path === "/environments")
      return send(res, 200, HTML, page({ title: "Environments", viewer, body: await renderEnvironments(deps), active: "/environments" }));
    send(res, 404, HTML, page({ title: "Not found", viewer, body: notice("error", `nothing at ${esc(path)}`) }));
  }

  const http = createHttpServer({ headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: errorMessage(error) }, "console request failed");
      send(res, 500, JSON_TYPE, JSON.stringify({ error: "internal error" }));
    });
  });
  http.maxHeadersCount = 100;
  const listening = await listenNamed(http, listen, { hosts, origins, extraHosts: options.allowedHosts });
  if (!listening.ok) return listening;
  const port = listening.value;
  const settled = async () => {
    while (running.size > 0) await Promise.allSettled([...running]);
  };
  return {
    ok: true,
    value: {
      url: `http://${hostPort(listen.host, port)}/`,
      sessionCount: () => sessions.size,
      settled,
      async close() {
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        await settled();
      },
    },
  };
}
