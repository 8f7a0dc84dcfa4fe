import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../src/cli/main.js";
import { GrantsSchema } from "../../src/config/grants-schema.js";
import { hashToken } from "../../src/grants/tokens.js";
import { capture } from "../support/cli-io.js";

describe("pipgate grants", () => {
  it("new-token prints a fresh token once and a grant entry holding only its sha256", async () => {
    const io = capture();
    expect(await main(["grants", "new-token", "ci-bot", "--environments", "default,data"], io)).toBe(0);
    const token = io.out().trim();
    expect(token).toMatch(/^pg_[A-Za-z0-9_-]{43}$/);
    const entry = GrantsSchema.parse(parse(io.err().slice(io.err().indexOf("ci-bot:"))));
    expect(entry["ci-bot"]).toMatchObject({ environments: ["default", "data"], token_sha256: hashToken(token) });
    expect(io.err()).not.toContain(token);

    const again = capture();
    await main(["grants", "new-token", "ci-bot"], again);
    expect(again.out().trim()).not.toBe(token);
  });

  it("refuses a token on the command line and a bad grant name", async () => {
    const io = capture();
    expect(await main(["grants", "hash-token", "secret"], io)).toBe(2);
    expect(io.err()).toMatch(/standard input/);
    expect(await main(["grants", "new-token", "../x"], capture())).toBe(2);
  });
});
