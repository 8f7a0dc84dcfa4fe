import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditLog, renderHtmlReport, summarise, reasonKind, type AuditInput, type AuditRecord } from "../../src/audit/index.js";
import { openMemoryDb } from "../../src/state/db.js";

const CHROMIUM = "/usr/bin/chromium";
const HOSTILE = "<script>alert(1)</script>";

/** Records over five days (the second day empty), with refusals of several kinds and a hostile name. */
async function buildRecords(): Promise<AuditRecord[]> {
  let now = new Date("2024-05-01T08:00:00Z");
  const log = createAuditLog(openMemoryDb(), { now: () => now });
  const at = async (iso: string, input: Omit<AuditInput, "tool" | "arguments">) => {
    now = new Date(iso);
    await log.append({ tool: "install_package", arguments: { package_name: input.package ?? "" }, ...input });
  };
  await at("2024-05-01T08:00:00Z", { identity: "agent-a", environment: "default", package: "requests", outcome: "installed" });
  await at("2024-05-01T09:00:00Z", { identity: "agent-a", environment: "default", package: "idna", outcome: "already-satisfied" });
  await at("2024-05-01T10:00:00Z", {
    identity: "agent-b",
    environment: "default",
    package: "reqeusts",
    outcome: "denied",
    reason: "not on the allowlist: reqeusts",
  });
  await at("2024-05-01T11:00:00Z", {
    identity: "agent-b",
    environment: "default",
    package: "leftpad",
    outcome: "denied",
    reason: "not on the allowlist: leftpad",
  });
  await at("2024-05-03T10:00:00Z", {
    identity: "agent-b",
    environment: "default",
    package: "requests",
    outcome: "rate-limited",
    reason: "rate limit: 10 per minute for grant agent-b",
  });
  await at("2024-05-03T11:00:00Z", {
    identity: "mallory",
    environment: "default",
    package: HOSTILE,
    outcome: "invalid",
    reason: `not a requirement: ${HOSTILE}`,
  });
  await at("2024-05-03T12:00:00Z", {
    identity: "agent-a",
    environment: "data",
    package: "numpy",
    outcome: "denied",
    reason: "version 1.0 of numpy is outside the allowed range >=1.26",
  });
  await at("2024-05-04T09:00:00Z", {
    identity: "agent-a",
    environment: "data",
    package: "numpy",
    outcome: "denied",
    reason: "version 1.2 of numpy is outside the allowed range >=1.26",
  });
  await at("2024-05-04T10:00:00Z", {
    identity: "agent-a",
    environment: "data",
    package: "pandas",
    outcome: "timed-out",
    reason: "the sandbox run exceeded 300 s",
  });
  await at("2024-05-05T16:00:00Z", { identity: "agent-c", environment: "default", package: "requests", outcome: "installed" });
  return log.list();
}

describe("report data", () => {
  it("groups reasons by kind, buckets by day with empty days kept, ranks packages and identities", async () => {
    const records = await buildRecords();
    const data = summarise(records, { unit: "day" });
    expect(data.unit).toBe("day");
    expect(data.buckets.map((b) => b.label)).toEqual(["2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04", "2024-05-05"]);
    const nonZero = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
    expect(data.buckets.map((b) => nonZero(b.counts))).toEqual([
      { installed: 1, "already-satisfied": 1, refused: 2 },
      {},
      { refused: 1, invalid: 1, "rate-limited": 1 },
      { refused: 1, failed: 1 },
      { installed: 1 },
    ]);
    expect(data.reasons.map((r) => [r.kind, r.count])).toEqual([
      ["not on the allowlist", 2],
      ["version … of … is outside the allowed range", 2],
      ["not a requirement", 1],
      ["rate limit", 1],
    ]);
    expect(data.packages[0]).toMatchObject({ name: "requests", total: 3, counts: { installed: 2, "rate-limited": 1 } });
    expect(data.identities.map((i) => i.name)).toEqual(["agent-a", "agent-b", "agent-c", "mallory"]);
    expect(data.totals).toMatchObject({
      all: 10,
      installed: 2,
      "already-satisfied": 1,
      refused: 4,
      invalid: 1,
      "rate-limited": 1,
      failed: 1,
      other: 0,
      identities: 4,
      packages: 7,
    });
    // without a unit asked for, about four days get six-hour bars and three hours five-minute ones
    expect(summarise(records).unit).toBe("6 hours");
    expect(summarise(records.slice(0, 4)).unit).toBe("5 minutes");
    expect(reasonKind({ ...records[0]!, outcome: "expired" })).toBe("expired (no reason given)");
  });

  it("escapes every record string and forbids scripts by policy", async () => {
    const html = renderHtmlReport(await buildRecords(), { generatedAt: new Date(), chain: { ok: true, count: 10, head: "f".repeat(64) } });
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
  });
});

const chromiumMissing = !existsSync(CHROMIUM);
const mayskip = chromiumMissing && process.env.CI !== "true";

describe.skipIf(mayskip)(`HTML report in headless Chromium${mayskip ? ` (skipped: ${CHROMIUM} is missing; apt-get install -y chromium)` : ""}`, () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    if (chromiumMissing) throw new Error(`${CHROMIUM} is missing: CI must install chromium (apt-get install -y chromium)`);
    dir = mkdtempSync(join(tmpdir(), "pipgate-audit-report-"));
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
  });
  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function open(html: string) {
    const file = join(dir, `report-${Math.random().toString(36).slice(2)}.html`);
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const dialogs: string[] = [];
    const requests: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on("request", (request) => requests.push(request.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url, { waitUntil: "load" });
    return { page, dialogs, external: () => requests.filter((r) => r !== url) };
  }

  it("draws the charts and tables, shows hostile names as text, fetches nothing", async () => {
    const records = await buildRecords();
    const data = summarise(records, { unit: "day" });
    const { page, dialogs, external } = await open(
      renderHtmlReport(records, {
        unit: "day",
        generatedAt: new Date("2024-05-06T00:00:00Z"),
        chain: { ok: true, count: records.length, head: records.at(-1)!.hash },
        scope: "--since 7d",
      }),
    );
    try {
      for (const id of ["chart-time", "chart-reasons", "chart-packages"]) {
        const box = await page.locator(`svg#${id}`).boundingBox();
        expect(box?.width ?? 0, id).toBeGreaterThan(100);
        expect(box?.height ?? 0, id).toBeGreaterThan(50);
        expect(await page.locator(`svg#${id} > title`).textContent()).not.toBe("");
      }
      // one bar per day, the empty day included; every day with requests has a visible segment
      const bars = page.locator("svg#chart-time g.bar");
      expect(await bars.count()).toBe(5);
      for (const [i, bucket] of data.buckets.entries()) {
        const segments = bars.nth(i).locator("rect.seg");
        const drawn = Object.values(bucket.counts).filter((n) => n > 0).length;
        expect(await segments.count()).toBe(drawn);
        for (let s = 0; s < drawn; s += 1) {
          const box = await segments.nth(s).boundingBox();
          expect(box?.height ?? 0).toBeGreaterThan(0);
          expect(box?.width ?? 0).toBeGreaterThan(0);
        }
      }
      // taller bar for the busier day
      const day1 = await bars.nth(0).boundingBox();
      const day5 = await bars.nth(4).boundingBox();
      expect(day1!.height).toBeGreaterThan(day5!.height);

      expect(await page.locator("svg#chart-reasons g.hbar").count()).toBe(4);
      expect(await page.locator("svg#chart-packages g.hbar").count()).toBe(7);
      const firstReason = await page.locator("svg#chart-reasons g.hbar rect").first().boundingBox();
      expect(firstReason?.width ?? 0).toBeGreaterThan(0);
      expect(await page.locator("#table-identities tbody tr").count()).toBe(4);
      expect(await page.locator("#table-identities thead th").count()).toBe(14);
      expect(await page.locator("#table-time tbody tr").count()).toBe(5);
      expect(await page.locator("#totals .card").first().innerText()).toContain("10");
      await expect.poll(() => page.locator("#chain").innerText()).toContain("Chain verified");

      // The hostile package name is text on the page, in the chart and the tables; nothing ran.
      expect(await page.locator("svg#chart-packages text.label", { hasText: HOSTILE }).count()).toBe(1);
      expect(await page.locator("#table-reasons td", { hasText: HOSTILE }).count()).toBe(1);
      expect(await page.locator("script").count()).toBe(0);
      expect(dialogs).toEqual([]);
      expect(external()).toEqual([]);

      mkdirSync(resolve("test-output"), { recursive: true });
      await page.screenshot({ path: resolve("test-output/audit-report.png"), fullPage: true });
      expect(existsSync(resolve("test-output/audit-report.png"))).toBe(true);
    } finally {
      await page.close();
    }
  });

  it("says loudly when the chain is broken, naming the record", async () => {
    const records = await buildRecords();
    const { page } = await open(
      renderHtmlReport(records, {
        generatedAt: new Date(),
        chain: { ok: false, count: 10, firstBad: { seq: 3, id: records[2]!.id, problem: "edited", detail: `record ${HOSTILE} changed` } },
      }),
    );
    try {
      const banner = page.locator("#chain");
      expect(await banner.getAttribute("role")).toBe("alert");
      const text = await banner.innerText();
      expect(text).toContain("Chain BROKEN at seq 3");
      expect(text).toContain(records[2]!.id);
      expect(text).toContain(`record ${HOSTILE} changed`);
      expect((await banner.boundingBox())?.height ?? 0).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });

  it("renders an empty selection without errors", async () => {
    const { page } = await open(renderHtmlReport([], { generatedAt: new Date(), chain: { ok: true, count: 0, head: "0".repeat(64) } }));
    try {
      expect(await page.locator("svg#chart-time g.bar").count()).toBe(0);
      expect(await page.locator("svg#chart-reasons").textContent()).toContain("none");
      expect(await page.locator("#table-identities tbody tr").count()).toBe(0);
    } finally {
      await page.close();
    }
  });
});
