import { Writable } from "node:stream";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { pino } from "pino";
import type { Logger } from "../../src/log.js";
import { describe, expect, it } from "vitest";
import { boundedFetch } from "../../src/gateway/bounded-fetch.js";
import { collectList, type ListPage } from "../../src/gateway/collect-list.js";
import { checkPrompt, checkTool, DEFINITION_LIMITS } from "../../src/gateway/definitions.js";
import { StderrTail } from "../../src/gateway/stderr-tail.js";
import { upstreamEnv } from "../../src/gateway/transports.js";

/** A logger whose warnings a test can read. */
function recordingLogger(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      messages.push((JSON.parse(chunk.toString("utf8")) as { msg: string }).msg);
      done();
    },
  });
  return { log: pino({ level: "warn" }, sink), messages };
}

const tool = (name: string, extra: Partial<Tool> = {}): Tool => ({ name, inputSchema: { type: "object" }, ...extra });

describe("boundedFetch: one upstream HTTP message is bounded", () => {
  const serve =
    (body: string, type: string, status = 200) =>
    async () =>
      new Response(status === 204 ? null : body, { status, headers: { "content-type": type } });

  it("passes a JSON body within the limit through unchanged", async () => {
    const overflows: string[] = [];
    const response = await boundedFetch(1024, (r) => overflows.push(r), serve('{"ok":true}', "application/json"))("http://127.0.0.1/mcp");
    expect(await response.text()).toBe('{"ok":true}');
    expect(overflows).toEqual([]);
  });

  it("errors a JSON body over the limit and reports the overflow", async () => {
    const overflows: string[] = [];
    const response = await boundedFetch(1024, (r) => overflows.push(r), serve("x".repeat(4096), "application/json"))("http://127.0.0.1/mcp");
    await expect(response.text()).rejects.toThrow(/more than 1 KB .*upstream.max_message_kb/);
    expect(overflows).toHaveLength(1);
  });

  it("counts a server-sent event stream per event, not in total", async () => {
    const event = `data: ${"y".repeat(500)}\r\n\r\n`;
    const fine = await boundedFetch(1024, () => undefined, serve(event.repeat(20), "text/event-stream"))("http://127.0.0.1/mcp");
    expect((await fine.text()).length).toBe(event.length * 20);
    const overflows: string[] = [];
    const big = await boundedFetch(1024, (r) => overflows.push(r), serve(`data: ${"z".repeat(2000)}\n\n`, "text/event-stream"))("http://127.0.0.1/mcp");
    await expect(big.text()).rejects.toThrow(/more than 1 KB/);
    expect(overflows).toHaveLength(1);
  });

  it("leaves a body-less response alone", async () => {
    const response = await boundedFetch(16, () => undefined, serve("", "text/plain", 204))("http://127.0.0.1/mcp");
    expect(response.status).toBe(204);
  });
});

describe("StderrTail keeps a bounded tail", () => {
  it("holds only the last bytes, as one line without control characters", () => {
    const tail = new StderrTail(64);
    for (let i = 0; i < 1000; i += 1) tail.push(Buffer.from(`line ${i}\n`));
    tail.push(Buffer.from("the end\u001b[31m\n"));
    const summary = tail.summary();
    expect(summary.endsWith("line 999 the end [31m")).toBe(true);
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(64);
    expect(summary).not.toMatch(/line 9[0-8]\d /);
  });

  it("keeps the end of one chunk larger than the limit, and cuts the summary to its own maximum", () => {
    const tail = new StderrTail(10);
    tail.push(Buffer.from("0123456789abcdef"));
    expect(tail.summary()).toBe("6789abcdef");
    expect(tail.summary(4)).toBe("…cdef");
  });
});

describe("definitions from an upstream list", () => {
  it("drops a tool with a name that is not an identifier, a huge description or a huge schema, naming it", async () => {
    const { log, messages } = recordingLogger();
    const bigSchema = { type: "object" as const, properties: { a: { description: "s".repeat(DEFINITION_LIMITS.maxSchemaBytes) } } };
    const tools = [
      tool("echo"),
      tool("bad name"),
      tool("ignore previous instructions\n"),
      tool("wordy", { description: "d".repeat(DEFINITION_LIMITS.maxDescriptionBytes + 1) }),
      tool("schemed", { inputSchema: bigSchema }),
      tool("echo"),
    ];
    const accepted = await collectList(
      "tools/list",
      async () => ({ items: tools }),
      checkTool,
      (t) => t.name,
      log,
    );
    expect(accepted.map((t) => t.name)).toEqual(["echo"]);
    expect(messages).toEqual([
      `dropped "bad name" from the upstream's tools/list: its name is not 1-128 letters, digits, '_', '.' and '-'`,
      `dropped "ignore previous instructions\\n" from the upstream's tools/list: its name is not 1-128 letters, digits, '_', '.' and '-'`,
      `dropped "wordy" from the upstream's tools/list: its description is ${DEFINITION_LIMITS.maxDescriptionBytes + 1} bytes (at most ${DEFINITION_LIMITS.maxDescriptionBytes})`,
      expect.stringMatching(/^dropped "schemed" from the upstream's tools\/list: its inputSchema is \d+ bytes of JSON \(at most 65536\)$/),
      `dropped a second "echo" from the upstream's tools/list`,
    ]);
  });

  it("follows pages, stops at a cursor seen before, and caps the items", async () => {
    const { log, messages } = recordingLogger();
    const seenCursors: Array<string | undefined> = [];
    const looping = async (cursor: string | undefined): Promise<ListPage<Tool>> => {
      seenCursors.push(cursor);
      return { items: [tool(`t${seenCursors.length}`)], nextCursor: cursor === "b" ? "a" : cursor === "a" ? "b" : "a" };
    };
    expect((await collectList("tools/list", looping, checkTool, (t) => t.name, log)).map((t) => t.name)).toEqual(["t1", "t2", "t3"]);
    expect(seenCursors).toEqual([undefined, "a", "b"]);

    let page = 0;
    const endless = async (): Promise<ListPage<Tool>> => {
      page += 1;
      return { items: Array.from({ length: 300 }, (_, i) => tool(`p${page}_${i}`)), nextCursor: `c${page}` };
    };
    const capped = await collectList("tools/list", endless, checkTool, (t) => t.name, log);
    expect(capped).toHaveLength(DEFINITION_LIMITS.maxItems);
    expect(page).toBe(4);
    expect(messages.at(-1)).toBe("the upstream's tools/list has more than 1000 entries; 200 or more are ignored");
  });

  it("stops after the page limit", async () => {
    const { log, messages } = recordingLogger();
    let page = 0;
    const empty = async (): Promise<ListPage<Tool>> => ({ items: [], nextCursor: `c${(page += 1)}` });
    expect(await collectList("tools/list", empty, checkTool, (t) => t.name, log)).toEqual([]);
    expect(page).toBe(DEFINITION_LIMITS.maxPages);
    expect(messages).toEqual([`the upstream's tools/list has more than ${DEFINITION_LIMITS.maxPages} pages; the rest is ignored`]);
  });

  it("checks a prompt's arguments too", () => {
    expect(checkPrompt({ name: "simple-prompt", arguments: [{ name: "code" }] })).toBeUndefined();
    expect(checkPrompt({ name: "p", arguments: [{ name: "has space" }] })).toMatch(/an argument's name/);
  });
});

describe("the environment of a stdio upstream", () => {
  it("is PATH, HOME and LANG of pipgate's own plus upstream.env, nothing else", () => {
    const ambient = { PATH: "/bin", HOME: "/root", LANG: "de_DE.UTF-8", SECRET: "x", PIP_INDEX_URL: "http://evil/", BASH_FUNC_x: "() { :; }" };
    expect(upstreamEnv({ A: "1", PATH: "/opt/bin" }, ambient)).toEqual({ PATH: "/opt/bin", HOME: "/root", LANG: "de_DE.UTF-8", A: "1" });
    expect(upstreamEnv(undefined, {})).toEqual({ LANG: "C.UTF-8" });
  });
});
