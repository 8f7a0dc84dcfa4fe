import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuditLog, importJsonl, type AuditLog } from "../../src/audit/index.js";
import { audit, runAudit } from "../../src/cli/audit.js";
import { CliError } from "../../src/cli/common.js";
import { openStateDb, type Db } from "../../src/state/db.js";
import { parseCsv } from "./csv-parse.js";
import { seed, steppingClock } from "./seed.js";
import { capture } from "../support/cli-io.js";

describe("pipgate audit", () => {
  let dir: string;
  let db: Db;
  let log: AuditLog;
  const now = () => new Date("2024-05-02T12:00:00Z");

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "pipgate-audit-cli-"));
    db = openStateDb(join(dir, "state"));
    log = createAuditLog(db, { now: steppingClock("2024-05-01T09:00:00Z", 3_600_000).now }); // hourly
    await seed(log);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (...argv: string[]) => {
    const io = capture();
    const code = await runAudit(argv, io, { db, now });
    return { code, out: io.out(), err: io.err() };
  };

  it("list prints an aligned table, filtered", async () => {
    const all = await run("list");
    expect(all.code).toBe(0);
    const lines = all.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+ID\s+IDENTITY\s+TOOL\s+ENV\s+PACKAGE\s+OUTCOME\s+REASON$/);
    expect(lines).toHaveLength(9);
    // aligned: every row's id starts in the header's ID column
    const idColumn = lines[0]!.indexOf("ID");
    for (const line of lines.slice(1)) expect(line.slice(idColumn, idColumn + 4)).toBe("aud_");

    const denied = await run("list", "--outcome", "denied,invalid", "--env", "default");
    const rows = denied.out.trimEnd().split("\n").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain("reqeusts");
    expect(rows[0]).toContain("not on the allowlist");
    expect(rows[1]).toContain("mallory");

    const since = await run("list", "--since", "2024-05-01T13:00Z", "--identity", "agent-a", "--json");
    expect(JSON.parse(since.out).map((r: { seq: number }) => r.seq)).toEqual([5, 8]);
    const pkg = await run("list", "--package", "NumPy", "--json");
    expect(JSON.parse(pkg.out).map((r: { seq: number }) => r.seq)).toEqual([3]);
    const latest = await run("list", "--limit", "2", "--json");
    expect(JSON.parse(latest.out).map((r: { seq: number }) => r.seq)).toEqual([7, 8]);
    // relative time, from the injected clock (2024-05-02T12:00Z): the last 24 hours holds all but the first 3
    const relative = await run("list", "--since", "24h", "--json");
    expect(JSON.parse(relative.out).map((r: { seq: number }) => r.seq)).toEqual([4, 5, 6, 7, 8]);
    const none = await run("list", "--identity", "nobody");
    expect(none).toMatchObject({ code: 0, out: "", err: "no matching records\n" });
  });

  it("list refuses bad filters with a usage error", async () => {
    await expect(run("list", "--since", "last tuesday")).rejects.toThrow(/--since: not a time/);
    await expect(run("list", "--outcome", "denied,exploded")).rejects.toThrow(/unknown outcome exploded/);
    await expect(run("list", "--limit", "0")).rejects.toThrow(CliError);
    await expect(run("list", "--colour")).rejects.toThrow(CliError);
    await expect(run("frobnicate")).rejects.toThrow(/unknown audit command/);
  });

  it("list neutralises terminal escape sequences in attacker-controlled fields", async () => {
    await log.append({ identity: "mallory", tool: "install_package", package: "evil\u001b[2J\u009b31m\u202e", outcome: "invalid", arguments: {} });
    const { out } = await run("list", "--identity", "mallory");
    const raw = ["\u001b", "\u009b", "\u202e"];
    for (const ch of raw) expect(out).not.toContain(ch);
    expect(out).toContain("evil\\u001b[2j\\u009b31m\\u202e");
    const shown = await run("show", (await log.list({ identity: "mallory" })).at(-1)!.id);
    for (const ch of raw) expect(shown.out).not.toContain(ch);
    expect(JSON.parse(shown.out).package).toBe("evil\u001b[2j\u009b31m\u202e"); // still exact, valid JSON
  });

  it("show prints the full record by id or prefix; unknown ids fail", async () => {
    const record = (await log.list({ package: "requests" }))[0]!;
    const full = await run("show", record.id);
    expect(full.code).toBe(0);
    expect(JSON.parse(full.out)).toEqual(record);
    expect(full.out.split("\n").length).toBeGreaterThan(10); // pretty-printed
    let unique = 5;
    const others = (await log.list()).filter((r) => r.id !== record.id);
    while (others.some((r) => r.id.startsWith(record.id.slice(0, unique)))) unique += 1;
    const byPrefix = await run("show", record.id.slice(0, unique));
    expect(JSON.parse(byPrefix.out)).toEqual(record);
    const missing = await run("show", "aud_NOPE");
    expect(missing).toMatchObject({ code: 1, out: "", err: "no audit record aud_NOPE\n" });
    await expect(run("show")).rejects.toThrow(/usage/);
  });

  it("verify exits 0 on an intact chain and 1 naming the first bad record", async () => {
    const head = (await log.list({ order: "desc", limit: 1 }))[0]!;
    const ok = await run("verify");
    expect(ok).toMatchObject({ code: 0, out: `chain intact: 8 records, head ${head.hash}\n` });
    // a head noted earlier is still found; after the newest two records are cut off it is not
    expect(await run("verify", "--head", head.hash)).toMatchObject({ code: 0 });
    db.prepare("DELETE FROM audit WHERE seq > 6").run();
    const truncated = await run("verify", "--head", head.hash);
    expect(truncated.code).toBe(1);
    expect(truncated.out).toMatch(/^chain intact: 6 records.*\nearlier head [0-9a-f]{64} is NOT in the log/);
    const victim = (await log.list())[4]!;
    db.prepare("UPDATE audit SET identity = 'someone-else' WHERE seq = 5").run();
    const bad = await run("verify");
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(`chain BROKEN at seq 5, record ${victim.id}: edited`);
  });

  it("export writes JSONL and CSV to a file, filtered", async () => {
    const jsonl = join(dir, "out.jsonl");
    const res = await run("export", "--format", "jsonl", "--out", jsonl, "--identity", "agent-a");
    expect(res).toMatchObject({ code: 0, out: "", err: `exported 4 records to ${jsonl}\n` });
    const back = importJsonl(readFileSync(jsonl, "utf8"));
    expect(back).toEqual({ ok: true, value: await log.list({ identity: "agent-a" }) });

    const csv = join(dir, "out.csv");
    expect((await run("export", "--format", "csv", "--out", csv)).code).toBe(0);
    const rows = parseCsv(readFileSync(csv, "utf8"));
    expect(rows).toHaveLength(9);
    expect(rows[3]?.[8]).toBe((await log.list())[2]?.reason); // the reason with commas, quotes and a newline

    const toStdout = await run("export", "--format", "csv", "--outcome", "denied");
    expect(parseCsv(toStdout.out)).toHaveLength(3);
    await expect(run("export", "--format", "xml")).rejects.toThrow(/jsonl or csv/);
    await expect(run("export", "--out", join(dir, "no-such-dir", "x.jsonl"))).rejects.toThrow(/cannot write .*ENOENT/);
  });

  it("tail prints the last records; report writes an HTML file", async () => {
    const tailed = await run("tail", "--limit", "3");
    const lines = tailed.out.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain((await log.list())[7]!.id);

    const file = join(dir, "report.html");
    const report = await run("report", "--html", file, "--since", "2024-05-01");
    expect(report.code).toBe(0);
    expect(report.err).toMatch(/report written to .*: 8 records, chain intact/);
    const html = readFileSync(file, "utf8");
    expect(html).toContain("Chain verified");
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
    await expect(run("report")).rejects.toThrow(/--html FILE/);
  });

  it("tail -f follows records appended by another connection until stopped", async () => {
    const io = capture();
    const stop = new AbortController();
    const following = runAudit(["tail", "-f", "--interval", "50"], io, { db, now, signal: stop.signal });
    const other = openStateDb(join(dir, "state")); // a second connection, as another pipgate process would have
    try {
      const fresh = await createAuditLog(other).append({
        identity: "late-agent",
        tool: "install_package",
        environment: "default",
        package: "attrs",
        outcome: "installed",
        arguments: { package_name: "attrs" },
      });
      while (!io.out().includes(fresh.id)) await new Promise((resolve) => setTimeout(resolve, 20));
      stop.abort();
      expect(await following).toBe(0);
      const lines = io.out().trimEnd().split("\n");
      expect(lines).toHaveLength(9); // the 8 seeded (fewer than 10), then the new one
      expect(lines[8]).toContain("late-agent");
      expect(lines.filter((line) => line.includes(fresh.id))).toHaveLength(1);
    } finally {
      stop.abort();
      other.close();
    }
  });

  it("opens the state database named by --config when run as the real subcommand", async () => {
    const config = join(dir, "pipgate.yaml");
    writeFileSync(config, `state_dir: state\nenvironments:\n  default:\n    python: ./venv/bin/python\n    allowlist: ./allowlist.yaml\n`);
    const io = capture();
    expect(await audit(["verify", "--config", config], io)).toBe(0);
    expect(io.out()).toMatch(/^chain intact: 8 records, head [0-9a-f]{64}\n$/);
  });
});
