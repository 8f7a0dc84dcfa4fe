import { describe, expect, it } from "vitest";
import { replaceSection, sectionOf } from "../../bench/results-section.js";

// bench/run.ts rewrites RESULTS.md and keeps the sessions section; bench/sessions.ts replaces only its own.
describe("RESULTS.md sections", () => {
  it("appends a missing section, replaces an existing one, and leaves the rest alone", () => {
    const first = replaceSection("# results\n\nwhole run\n", "sessions", ["## HTTP", "old $& figure"]);
    expect(first).toBe("# results\n\nwhole run\n\n<!-- bench:sessions -->\n## HTTP\nold $& figure\n<!-- /bench:sessions -->\n");
    const second = replaceSection(`${first}after\n`, "sessions", ["## HTTP", "new"]);
    expect(second).toBe("# results\n\nwhole run\n\n<!-- bench:sessions -->\n## HTTP\nnew\n<!-- /bench:sessions -->\nafter\n");
    expect(sectionOf(second, "sessions")).toBe("<!-- bench:sessions -->\n## HTTP\nnew\n<!-- /bench:sessions -->");
    expect(sectionOf("# results\n", "sessions")).toBeUndefined();
  });
});
