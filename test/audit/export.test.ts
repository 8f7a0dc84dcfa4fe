import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createAuditLog, CSV_COLUMNS, importJsonl, writeCsv, writeJsonl, type AuditRecord } from "../../src/audit/index.js";
import { openMemoryDb } from "../../src/state/db.js";
import { parseCsv } from "./csv-parse.js";
import { SAMPLE_INPUTS, seed, steppingClock } from "./seed.js";

/** A sink that accepts one small chunk at a time and answers late, so writers must honour backpressure. */
function slowSink(): { stream: Writable; text: () => string; drains: () => number } {
  const chunks: string[] = [];
  let drains = 0;
  const stream = new Writable({
    highWaterMark: 64,
    decodeStrings: false,
    write(chunk: string, _encoding, callback) {
      chunks.push(chunk);
      setImmediate(callback);
    },
  });
  stream.on("drain", () => {
    drains += 1;
  });
  return { stream, text: () => chunks.join(""), drains: () => drains };
}

async function sampleRecords(): Promise<AuditRecord[]> {
  const log = createAuditLog(openMemoryDb(), { now: steppingClock("2024-05-01T10:00:00Z", 60_000).now });
  await seed(log);
  await log.append({
    identity: "mallory",
    tool: "install_package",
    package: "=cmd|' /c calc'!a0",
    outcome: "invalid",
    arguments: { package_name: "=cmd|' /c calc'!a0", nested: { list: [1, null, "x"], unicode: "é\u2028\u0000" } },
    reason: "-2+3 looks like a formula",
  });
  return log.list();
}

describe("audit export", () => {
  it("JSONL round-trips every record exactly", async () => {
    const records = await sampleRecords();
    const sink = slowSink();
    expect(await writeJsonl(records, sink.stream)).toBe(records.length);
    const text = sink.text();
    expect(text.split("\n")).toHaveLength(records.length + 1); // one line each, newline-terminated
    expect(sink.drains()).toBeGreaterThan(0);
    const back = importJsonl(text);
    expect(back).toEqual({ ok: true, value: records });
    if (!back.ok) return;
    // byte-identical on a second pass, and nothing lost in nested, unicode or null values
    expect(back.value.map((r) => JSON.stringify(r)).join("\n") + "\n").toBe(text);
    expect(back.value.at(-1)?.arguments).toEqual({ package_name: "=cmd|' /c calc'!a0", nested: { list: [1, null, "x"], unicode: "é\u2028\u0000" } });
  });

  it("importJsonl names the line of a malformed record", async () => {
    const [record] = await sampleRecords();
    const text = `${JSON.stringify(record)}\n{"seq":"two"}\nnot json\n`;
    const back = importJsonl(text);
    expect(back.ok).toBe(false);
    if (back.ok) return;
    expect(back.error.some((line) => line.startsWith("line 2: seq:"))).toBe(true);
    expect(back.error.some((line) => line.startsWith("line 3: not JSON"))).toBe(true);
  });

  it("CSV quotes commas, quotes and line breaks so it parses back to the same values", async () => {
    const records = await sampleRecords();
    const sink = slowSink();
    expect(await writeCsv(records, sink.stream)).toBe(records.length);
    const rows = parseCsv(sink.text());
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(records.length + 1);
    records.forEach((record, i) => {
      const row = rows[i + 1]!;
      expect(row).toHaveLength(CSV_COLUMNS.length);
      const cell = (column: (typeof CSV_COLUMNS)[number]) => row[CSV_COLUMNS.indexOf(column)];
      expect(cell("seq")).toBe(String(record.seq));
      expect(cell("id")).toBe(record.id);
      expect(cell("hash")).toBe(record.hash);
      expect(cell("outcome")).toBe(record.outcome);
      expect(cell("environment")).toBe(record.environment ?? "");
    });
    // the reason with commas, quotes and a newline survives exactly
    const numpy = rows.find((row) => row[CSV_COLUMNS.indexOf("package")] === "numpy")!;
    expect(numpy[CSV_COLUMNS.indexOf("reason")]).toBe(SAMPLE_INPUTS[2]?.reason);
    const requests = rows.find((row) => row[CSV_COLUMNS.indexOf("package")] === "requests")!;
    expect(requests[CSV_COLUMNS.indexOf("resolved")]).toBe("requests==2.31.0;idna==3.6");
    const hostile = rows.find((row) => row[CSV_COLUMNS.indexOf("package")] === "<script>alert(1)</script>")!;
    expect(hostile[CSV_COLUMNS.indexOf("reason")]).toBe('not a requirement: <script>alert(1)</script> & "friends"');
  });

  it("CSV keeps formula-like text from running in a spreadsheet", async () => {
    const records = await sampleRecords();
    const sink = slowSink();
    await writeCsv(records.slice(-1), sink.stream);
    const row = parseCsv(sink.text())[1]!;
    expect(row[CSV_COLUMNS.indexOf("package")]).toBe("'=cmd|' /c calc'!a0");
    expect(row[CSV_COLUMNS.indexOf("reason")]).toBe("'-2+3 looks like a formula");
  });
});
