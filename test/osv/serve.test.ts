import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildWheel } from "../fixtures/dists.js";
import { writeZip } from "../fixtures/zip.js";
import { capture } from "../support/cli-io.js";
import { createWorkspace, type Workspace } from "../support/harness.js";
import { connectStdio } from "../support/stdio-client.js";
import { osvRecord } from "./records.js";

type ToolResult = { content: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };
type Rule = { rule: string; outcome: string; detail: string };
type DecisionOut = { allowed: boolean; reason?: string; rules: Rule[] };

const zipOf = (records: Record<string, unknown>[]) =>
  writeZip(records.map((record) => ({ name: `${String(record.id)}.json`, data: Buffer.from(JSON.stringify(record)) })));
const MAL = osvRecord({ id: "MAL-2026-2144", name: "litellm", versions: ["1.82.7"], summary: "Malicious code in litellm" });

/** A real `pipgate serve` with rules.osv naming a zip, against the local index: the malware rule both ways, and a reload. */
describe("the OSV database in a running pipgate", () => {
  let ws: Workspace;
  let client: Client;
  let close: () => Promise<void>;
  let zip: string;

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [{ name: "litellm", releases: ["1.82.6", "1.82.7"].map((version) => ({ version, dists: [buildWheel({ name: "litellm", version })] })) }],
      environments: {
        default: {
          allowlist: { packages: { litellm: "*" }, vulnerability_ignore: [{ id: "MAL-2026-2144", reason: "tries to waive it", expires: "2999-01-01" }] },
        },
      },
      config: { rules: { osv: { path: "osv/all.zip", max_age_hours: 48 } } },
    });
    mkdirSync(join(ws.dir, "osv"));
    zip = join(ws.dir, "osv", "all.zip");
    writeFileSync(zip, zipOf([MAL, osvRecord({ id: "PYSEC-2026-1", name: "other", versions: ["1.0"] })]));
    ({ client, close } = await connectStdio(ws.configPath));
  }, 120_000);

  afterAll(async () => {
    await close?.();
    await ws?.close();
  });

  const checkPackage = async (name: string) => {
    const result = (await client.callTool({ name: "check_package", arguments: { package_name: name } })) as ToolResult;
    return result.structuredContent as { decision: DecisionOut; audit_id: string };
  };
  const malware = (decision: DecisionOut) => decision.rules.find((rule) => rule.rule === "malware");

  it("refuses the reported release, whatever the ignore list says, and records the rule in the audit record", async () => {
    const { decision, audit_id } = await checkPackage("litellm==1.82.7");
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/litellm 1\.82\.7 is reported malicious: MAL-2026-2144 \(Malicious code in litellm\)/);
    expect(malware(decision)?.outcome).toBe("fail");
    const io = capture();
    expect(await main(["audit", "show", audit_id, "--config", ws.configPath], io)).toBe(0);
    expect(io.out()).toMatch(/malware/);
    expect(io.out()).toMatch(/MAL-2026-2144/);
  });

  it("allows the clean release, the rule saying what it checked", async () => {
    const { decision } = await checkPackage("litellm==1.82.6");
    expect(decision.allowed).toBe(true);
    expect(malware(decision)).toMatchObject({
      outcome: "pass",
      detail: expect.stringMatching(/no malicious-package report for litellm 1\.82\.6 in the OSV database \(2 records/),
    });
  });

  it("refuses install_package of the reported release before any sandbox runs", async () => {
    const result = (await client.callTool({ name: "install_package", arguments: { package_name: "litellm==1.82.7" } })) as ToolResult;
    expect(result.isError).toBe(true);
    expect(result.content.map((part) => part.text ?? "").join("\n")).toMatch(/MAL-2026-2144/);
  });

  it("picks up a replaced database without a restart", async () => {
    const next = join(ws.dir, "osv", "next.zip");
    writeFileSync(next, zipOf([MAL, osvRecord({ id: "MAL-2026-3000", name: "litellm", versions: ["1.82.6"] })]));
    renameSync(next, zip);
    await expect.poll(async () => malware((await checkPackage("litellm==1.82.6")).decision)?.outcome, { timeout: 20_000, interval: 250 }).toBe("fail");
  });

  it("pipgate osv status shows count, age and path; exit 1 when the database is too old", async () => {
    const io = capture();
    expect(await main(["osv", "status", "--config", ws.configPath], io)).toBe(0);
    expect(io.out()).toMatch(
      /^ok {4}osv database: 2 records \(0 withdrawn, 0 skipped as not OSV\) on 1 projects, newest record \d+\.\d hours old \(max_age_hours 48\), .*osv\/all\.zip\n$/,
    );
    const json = capture();
    expect(await main(["osv", "status", "--json", "--config", ws.configPath], json)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ ok: true, records: 2, projects: 1, path: zip, maxAgeHours: 48 });

    writeFileSync(zip, zipOf([osvRecord({ ...{ id: "MAL-1", name: "x" }, modified: "2026-01-01T00:00:00Z" })]));
    const stale = capture();
    expect(await main(["osv", "status", "--config", ws.configPath], stale)).toBe(1);
    expect(stale.out()).toMatch(
      /^FAIL {2}osv database: .* is \d+ days \(\d+ hours\) old \(newest record modified 2026-01-01T00:00:00\.000Z\), older than rules\.osv\.max_age_hours: 48/,
    );
  });
});
