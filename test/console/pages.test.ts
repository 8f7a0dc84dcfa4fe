import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditLog, type AuditLog } from "../../src/audit/index.js";
import { filterQuery, parseFilter } from "../../src/console/filters.js";
import { startConsole, type ConsoleServer } from "../../src/console/server.js";
import { ConsoleSessions, cookieValue, sessionCookie } from "../../src/console/sessions.js";
import { silentLogger } from "../../src/log.js";
import { openMemoryDb } from "../../src/state/db.js";

const HOSTILE = `<img src=x onerror="alert(1)">`;

describe("console sessions and filters", () => {
  it("ends a session by age and by idleness, and bounds the table", () => {
    let now = 0;
    const sessions = new ConsoleSessions({ maxAgeMs: 1000, idleMs: 300, maxSessions: 2 }, () => now);
    const a = sessions.create("ines");
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.csrf).not.toBe(a.id);
    now = 200;
    expect(sessions.get(a.id)?.grant).toBe("ines");
    now = 450;
    expect(sessions.get(a.id)?.grant).toBe("ines"); // touched at 200: still within the idle time
    now = 800;
    expect(sessions.get(a.id)).toBeUndefined(); // idle since 450
    const b = sessions.create("b");
    sessions.create("c");
    sessions.create("d");
    expect(sessions.size).toBe(2);
    expect(sessions.get(b.id)).toBeUndefined(); // the least recently used went
    now = 5000;
    expect(sessions.size).toBe(2);
    sessions.create("e");
    expect(sessions.size).toBe(1); // expired ones swept at the next login
  });

  it("reads only a well-formed session cookie, and writes it HttpOnly, SameSite=Strict, Secure when asked", () => {
    expect(cookieValue("a=1; pipgate_console=abc_DEF-1", "pipgate_console")).toBe("abc_DEF-1");
    expect(cookieValue("pipgate_console=abc;def", "pipgate_console")).toBe("abc");
    expect(cookieValue('pipgate_console="<x>"', "pipgate_console")).toBeUndefined();
    expect(cookieValue(undefined, "pipgate_console")).toBeUndefined();
    expect(sessionCookie("id", 60, false)).toBe("pipgate_console=id; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
    expect(sessionCookie("id", 60, true)).toMatch(/; Secure$/);
  });

  it("parses a log filter strictly: known outcomes and kinds, bounded text, no unknown keys", () => {
    const now = new Date("2026-03-01T12:00:00Z");
    const ok = parseFilter(new URLSearchParams("since=30m&package=demo&kind=check&outcome=&after=7"), now);
    if (!ok.ok) throw new Error(ok.error);
    expect(ok.value.audit).toEqual({ since: new Date("2026-03-01T11:30:00Z"), package: "demo" });
    expect(ok.value.kind).toBe("check");
    expect(filterQuery(ok.value.given)).toBe("?since=30m&package=demo&kind=check");
    const unknown = parseFilter(new URLSearchParams("pakage=demo"), now);
    expect(unknown.ok).toBe(false);
    expect(parseFilter(new URLSearchParams("outcome=exploded"), now).ok).toBe(false);
    expect(parseFilter(new URLSearchParams(`identity=${"x".repeat(201)}`), now).ok).toBe(false);
    expect(parseFilter(new URLSearchParams("package=a&package=b"), now).ok).toBe(false);
    const badTime = parseFilter(new URLSearchParams("since=yesterday"), now);
    expect(badTime.ok ? "" : badTime.error).toContain("since: not a time");
  });
});

describe("console pages over a real audit log, on 127.0.0.1", () => {
  let audit: AuditLog;
  let server: ConsoleServer;
  let base: string;
  const tokens: Record<string, string> = { "audit-token": "ines", "agent-token": "bot" };
  const bearer = { authorization: "Bearer audit-token" };

  beforeAll(async () => {
    audit = createAuditLog(openMemoryDb());
    await audit.append({
      identity: "mallory",
      tool: "install_package",
      arguments: { package_name: HOSTILE },
      outcome: "invalid",
      package: HOSTILE,
      reason: `not a requirement: ${HOSTILE}`,
    });
    await audit.append({
      identity: "bot",
      tool: "install_package",
      arguments: {},
      outcome: "installed",
      environment: "default",
      package: "demo",
      decision: { allowed: true, rules: [{ rule: "allowlist", outcome: "pass", detail: `listed ${HOSTILE}` }] },
      resolved: [{ name: "demo", version: "1.0", sha256: "a".repeat(64) }],
    });
    const started = await startConsole(
      {
        audit,
        approvals: undefined,
        environments: ["default"],
        grantForToken: (token) => tokens[token],
        roleFor: (grant) => (grant === "ines" ? "auditor" : grant === "bot" ? "agent" : undefined),
        now: () => new Date(),
        log: silentLogger(),
      },
      { listen: { host: "127.0.0.1", port: 0 } },
    );
    if (!started.ok) throw new Error(started.error);
    server = started.value;
    base = server.url.replace(/\/$/, "");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("refuses to listen beyond loopback unless told", async () => {
    const refused = await startConsole({} as never, { listen: { host: "0.0.0.0", port: 0 } });
    expect(refused.ok ? "" : refused.error).toContain("--allow-remote");
  });

  it("escapes every record string on the log and record pages, under a strict CSP", async () => {
    const log = await fetch(`${base}/log`, { headers: bearer });
    expect(log.status).toBe(200);
    expect(log.headers.get("content-security-policy")).toMatch(/^default-src 'self'; script-src 'self'/);
    expect(log.headers.get("x-frame-options")).toBe("DENY");
    const html = await log.text();
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain("&#60;img src=x onerror=&#34;alert(1)&#34;&#62;");
    expect(html).not.toMatch(/<script(?! src="\/assets\/console\.js" defer><\/script>)/);
    expect(html).not.toMatch(/<img/i);
    const record = (await audit.list({ outcome: "installed" }))[0]!;
    const page = await (await fetch(`${base}/records/${record.id}`, { headers: bearer })).text();
    expect(page).toContain(`<code class="hash" id="record-hash">${record.hash}</code>`);
    expect(page).toContain("listed &#60;img");
    expect(page).not.toContain(HOSTILE);
    expect((await fetch(`${base}/records/aud_nothing`, { headers: bearer })).status).toBe(404);
  });

  it("answers 401 without credentials and 403 to an agent's token; the API returns rows after a seq", async () => {
    expect((await fetch(`${base}/log`)).status).toBe(401);
    expect((await fetch(`${base}/api/records`, { headers: { authorization: "Bearer agent-token" } })).status).toBe(403);
    const rows = (await (await fetch(`${base}/api/records?after=1`, { headers: bearer })).json()) as {
      records: Array<{ seq: number; kind: string }>;
      last: number;
    };
    expect(rows.records.map((r) => [r.seq, r.kind])).toEqual([[2, "installed"]]);
    expect(rows.last).toBe(2);
    const bad = await fetch(`${base}/api/records?outcome=exploded`, { headers: bearer });
    expect(bad.status).toBe(400);
  });
});
