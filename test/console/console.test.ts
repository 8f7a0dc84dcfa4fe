import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleDeps } from "../../src/cli/console.js";
import { startConsole, type ConsoleServer } from "../../src/console/server.js";
import { hashToken } from "../../src/grants/tokens.js";
import { silentLogger } from "../../src/log.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { openInProcess, type ToolResult } from "../support/in-process.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve("test-output/console");
const HOSTILE = "<script>alert(1)</script>";
const TOKENS = { agent: "agent-token-0123456789", auditor: "auditor-token-0123456789", approver: "approver-token-0123456789" };

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly the headers given (Host and Origin included), as a hostile page or client would send it. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(url, { method: opts.method ?? "GET", headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

const chromiumMissing = !existsSync(CHROMIUM);
const mayskip = chromiumMissing && process.env.CI !== "true";

describe.skipIf(mayskip)(`the web console in headless Chromium${mayskip ? ` (skipped: ${CHROMIUM} is missing; apt-get install -y chromium)` : ""}`, () => {
  let ws: Workspace;
  let agent: Awaited<ReturnType<typeof openInProcess>>;
  let consoleServer: ConsoleServer;
  let base: string;
  let browser: Browser;
  let pendingId: string;

  async function install(packageName: string) {
    return (await agent.client.callTool({ name: "install_package", arguments: { package_name: packageName } })) as ToolResult;
  }

  beforeAll(async () => {
    if (chromiumMissing) throw new Error(`${CHROMIUM} is missing: CI must install chromium (apt-get install -y chromium)`);
    await requireDocker();
    mkdirSync(ARTIFACTS, { recursive: true });
    const wheel = (name: string) => ({ name, releases: [{ version: "1.0.0", dists: [buildWheel({ name, version: "1.0.0" })] }] });
    ws = await createWorkspace({
      projects: [wheel("demo-lib"), wheel("outsider")],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: {
        policy: "policy.yaml",
        grants: {
          "agent-1": { token_sha256: hashToken(TOKENS.agent) },
          "ines-auditor": { role: "auditor", token_sha256: hashToken(TOKENS.auditor) },
          "maria-approver": { role: "approver", token_sha256: hashToken(TOKENS.approver) },
        },
      },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  unlisted: true\n  expires_after_hours: 24\n');
    agent = await openInProcess(ws.configPath, { identity: "agent-1" });

    // Traffic of several kinds: an install, an already-satisfied answer, a dry run, a malformed (hostile) call, a queued install.
    expect((await install("demo-lib")).structuredContent).toMatchObject({ status: "installed" });
    expect((await install("demo-lib")).structuredContent).toMatchObject({ status: "already-satisfied" });
    await agent.client.callTool({ name: "check_package", arguments: { package_name: "outsider" } });
    expect((await install(HOSTILE)).isError).toBe(true);
    const queued = await install("outsider==1.0.0");
    expect(queued.structuredContent).toMatchObject({ status: "pending" });
    pendingId = String(queued.structuredContent?.approval_id);

    const started = await startConsole(consoleDeps(agent, silentLogger()), { listen: { host: "127.0.0.1", port: 0 } });
    if (!started.ok) throw new Error(started.error);
    consoleServer = started.value;
    base = consoleServer.url.replace(/\/$/, "");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await consoleServer?.close();
    await agent?.close();
    await ws?.close();
  });

  /** A fresh browser page that records dialogs, page errors, CSP violations and every request it makes. */
  async function newPage() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("dialog", (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // the sign-in page answers 401 on purpose, which the browser logs; anything else (a CSP refusal) is a problem
      if (message.type() === "error" && !/^Failed to load resource: .* 401/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    page.on("request", (req) => requests.push(req.url()));
    return { page, problems, external: () => requests.filter((url) => !url.startsWith(base)) };
  }

  async function signIn(page: Page, token: string) {
    const response = await page.goto(`${base}/log`);
    expect(response?.status()).toBe(401);
    await page.fill("#token", token);
    await page.click("form.login button");
    await page.locator("#who").waitFor();
    expect(page.url()).toBe(`${base}/log`);
  }

  /** A session cookie and its CSRF token, as a browser that signed in would hold them. */
  async function session(token: string): Promise<{ cookie: string; csrf: string }> {
    const login = await raw(`${base}/login`, { method: "POST", headers: { ...FORM, origin: base }, body: form({ token }) });
    expect(login.status).toBe(303);
    const setCookie = String(login.headers["set-cookie"]);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Max-Age=\d+/);
    const cookie = setCookie.split(";")[0]!;
    const approvals = await raw(`${base}/approvals`, { headers: { cookie } });
    const csrf = /name="csrf" value="([^"]+)"/.exec(approvals.body)?.[1];
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    return { cookie, csrf: csrf! };
  }

  it("answers 401 without a token, 401 for a wrong one, 403 for an agent's, and only to its own Host", async () => {
    const page = await raw(`${base}/log`);
    expect(page.status).toBe(401);
    expect(page.headers["www-authenticate"]).toContain("Bearer");
    expect(page.body).toContain('action="/login"');
    expect((await raw(`${base}/api/records`)).status).toBe(401);
    expect((await raw(`${base}/api/records`, { headers: { authorization: "Bearer nope-nope-nope" } })).status).toBe(401);
    const agentAnswer = await raw(`${base}/api/records`, { headers: { authorization: `Bearer ${TOKENS.agent}` } });
    expect(agentAnswer.status).toBe(403);
    expect(agentAnswer.body).toContain("role agent");
    const agentLogin = await raw(`${base}/login`, { method: "POST", headers: { ...FORM, origin: base }, body: form({ token: TOKENS.agent }) });
    expect(agentLogin.status).toBe(403);
    expect(agentLogin.headers["set-cookie"]).toBeUndefined();
    const auditor = await raw(`${base}/api/records`, { headers: { authorization: `Bearer ${TOKENS.auditor}` } });
    expect(auditor.status).toBe(200);
    expect(auditor.headers["content-security-policy"]).toContain("default-src 'self'");
    expect((JSON.parse(auditor.body) as { records: unknown[] }).records.length).toBeGreaterThanOrEqual(5);
    const rebound = await raw(`${base}/api/records`, { headers: { authorization: `Bearer ${TOKENS.auditor}`, host: "evil.example:80" } });
    expect(rebound.status).toBe(403);
  });

  it("refuses an auditor's approval (403), a bad CSRF token and a cross-origin POST; the request stays pending", async () => {
    const target = `${base}/approvals/${pendingId}`;
    const body = form({ decision: "approve", reason: "looks fine" });
    const auditorBearer = await raw(target, { method: "POST", headers: { ...FORM, authorization: `Bearer ${TOKENS.auditor}` }, body });
    expect(auditorBearer.status).toBe(403);
    const auditor = await session(TOKENS.auditor);
    const auditorSession = await raw(target, {
      method: "POST",
      headers: { ...FORM, cookie: auditor.cookie, origin: base },
      body: `${body}&csrf=${auditor.csrf}`,
    });
    expect(auditorSession.status).toBe(403);
    expect(auditorSession.body).toContain("only an approver");

    const approver = await session(TOKENS.approver);
    const noCsrf = await raw(target, { method: "POST", headers: { ...FORM, cookie: approver.cookie, origin: base }, body });
    expect(noCsrf.status).toBe(403);
    const badCsrf = await raw(target, { method: "POST", headers: { ...FORM, cookie: approver.cookie, origin: base }, body: `${body}&csrf=${"x".repeat(43)}` });
    expect(badCsrf.status).toBe(403);
    expect(badCsrf.body).toContain("CSRF");
    const crossOrigin = await raw(target, {
      method: "POST",
      headers: { ...FORM, cookie: approver.cookie, origin: "http://evil.example" },
      body: `${body}&csrf=${approver.csrf}`,
    });
    expect(crossOrigin.status).toBe(403);
    const crossSite = await raw(target, {
      method: "POST",
      headers: { ...FORM, cookie: approver.cookie, "sec-fetch-site": "cross-site" },
      body: `${body}&csrf=${approver.csrf}`,
    });
    expect(crossSite.status).toBe(403);
    const noReason = await raw(target, {
      method: "POST",
      headers: { ...FORM, cookie: approver.cookie, origin: base },
      body: form({ decision: "approve", reason: " ", csrf: approver.csrf }),
    });
    expect(noReason.status).toBe(400);
    expect(noReason.body).toContain("a reason is required");

    expect((await agent.control.approvals?.list())?.find((a) => a.id === pendingId)?.state).toBe("pending");
    expect(await agent.broker.audit.list({ outcome: "approved" })).toEqual([]);
  });

  it("signs in, counts by kind, filters, opens a record with its rules, hashes and place in the chain", async () => {
    const { page, problems, external } = await newPage();
    try {
      await signIn(page, TOKENS.auditor);
      expect(await page.locator("#who").innerText()).toBe("ines-auditor");
      const card = (kind: string) => page.locator(`#totals .card[data-kind="${kind}"] .num`).innerText();
      expect(await card("installed")).toBe("1");
      expect(await card("already-satisfied")).toBe("1");
      expect(await card("invalid")).toBe("1");
      expect(await card("check")).toBe("1");
      expect(await card("approval")).toBe("1");
      expect(await card("refused")).toBe("0");
      // the hostile package name is text, nothing ran
      expect(await page.locator("#log-rows td", { hasText: HOSTILE }).count()).toBeGreaterThanOrEqual(1);
      expect(await page.locator("svg#chart-time g.bar").count()).toBeGreaterThanOrEqual(1);
      await page.screenshot({ path: join(ARTIFACTS, "01-log.png"), fullPage: true });

      await page.fill('input[name="package"]', "demo-lib");
      await page.selectOption('select[name="kind"]', "installed");
      await Promise.all([page.waitForURL(/package=demo-lib/), page.click("#filters button[type=submit]")]);
      const rows = page.locator("#log-rows tr");
      expect(await rows.count()).toBe(1);
      expect(await rows.first().innerText()).toContain("installed");
      await page.screenshot({ path: join(ARTIFACTS, "02-filtered.png"), fullPage: true });

      await Promise.all([page.waitForURL(/\/records\/aud_/), rows.first().locator("a").first().click()]);
      const record = (await agent.broker.audit.list({ package: "demo-lib", outcome: "installed" }))[0]!;
      expect(await page.locator("#record-id").innerText()).toBe(record.id);
      expect(await page.locator("#record-outcome").innerText()).toBe("installed");
      expect(await page.locator("#rules tbody tr").count()).toBeGreaterThan(3);
      expect(await page.locator("#rules").innerText()).toContain("pass");
      const sha = await page.locator("#resolved code.hash").first().innerText();
      expect(sha).toBe(record.resolved?.[0]?.sha256);
      expect(await page.locator("#sandbox").innerText()).toMatch(/duration|cached/);
      expect(await page.locator("#record-hash").innerText()).toBe(record.hash);
      expect(await page.locator('a[rel="prev"]').count()).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, "03-record.png"), fullPage: true });

      await page.click('a[href="/chain"]');
      const verified = await agent.broker.audit.verify();
      expect(verified.ok).toBe(true);
      if (verified.ok) expect(await page.locator("#head").innerText()).toBe(verified.head);

      // an auditor sees the queue but no approve button
      await page.goto(`${base}/approvals`);
      expect(await page.locator(`article#${pendingId}`).getAttribute("data-state")).toBe("pending");
      expect(await page.locator("button.approve").count()).toBe(0);
      expect(problems).toEqual([]);
      expect(external()).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("tails the log live: a new record appears without a reload", async () => {
    const { page, problems } = await newPage();
    try {
      await signIn(page, TOKENS.auditor);
      const before = await page.locator("#log-rows tr").count();
      await agent.client.callTool({ name: "list_environments", arguments: {} });
      await expect.poll(() => page.locator("#log-rows tr").count(), { timeout: 20_000 }).toBe(before + 1);
      expect(await page.locator("#log-rows tr").first().innerText()).toContain("list_environments");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("an approver approves a queued install in the browser and sees it run into the environment", async () => {
    const { page, problems } = await newPage();
    try {
      await signIn(page, TOKENS.approver);
      await page.goto(`${base}/approvals`);
      const article = page.locator(`article#${pendingId}`);
      await article.locator("textarea[name=reason]").fill(`needed for the report ${HOSTILE}`);
      await page.screenshot({ path: join(ARTIFACTS, "04-approvals.png"), fullPage: true });
      await Promise.all([page.waitForURL(/\/approvals/), article.locator("button.approve").click()]);
      // the page refreshes itself while the install runs
      await expect.poll(async () => page.locator(`article#${pendingId}`).getAttribute("data-state"), { timeout: 240_000, interval: 1000 }).toBe("installed");
      await consoleServer.settled();
      const text = await page.locator(`article#${pendingId}`).innerText();
      expect(text).toContain("by maria-approver");
      expect(text).toContain(`needed for the report ${HOSTILE}`);
      await page.screenshot({ path: join(ARTIFACTS, "05-approved.png"), fullPage: true });

      const imported = await runPython(ws.pythons.default!, "import outsider; print(outsider.__version__)");
      expect(imported.stdout.trim()).toBe("1.0.0");
      const trail = (await agent.broker.audit.list({ package: "outsider" })).map((r) => `${r.outcome}:${r.identity}:${r.tool}`);
      expect(trail).toContain("approved:maria-approver:approvals approve");
      expect(trail).toContain("installed:agent-1:install_package");

      await page.goto(`${base}/environments`);
      const row = page.locator("#env-default table.installed tr", { hasText: "outsider" });
      expect(await row.count()).toBe(1);
      const installed = (await agent.broker.audit.list({ package: "outsider", outcome: "installed" }))[0]!;
      expect(await row.locator("a").getAttribute("href")).toBe(`/records/${installed.id}`);
      await page.screenshot({ path: join(ARTIFACTS, "06-environments.png"), fullPage: true });
      expect(problems).toEqual([]);
      for (const shot of ["01-log", "03-record", "05-approved", "06-environments"]) expect(existsSync(join(ARTIFACTS, `${shot}.png`))).toBe(true);
    } finally {
      await page.close();
    }
  }, 300_000);
});
