import { describe, expect, it } from "vitest";
import { environmentMismatches, parseUpstreamEnvironments } from "../../src/gateway/environment-names.js";

const INTERPRETER_TEXT =
  "Available Python Environments:\n\n- Name: default\n  Path: /srv/venvs/app/bin/python\n  Version: Python 3.11.2\n\n- Name: system\n  Path: /usr/bin/python3\n  Version: Python 3.11.2\n\n";

describe("the upstream's environment names", () => {
  it("reads the interpreter server's text form and a JSON list", () => {
    expect(parseUpstreamEnvironments(INTERPRETER_TEXT)).toEqual([
      { name: "default", path: "/srv/venvs/app/bin/python" },
      { name: "system", path: "/usr/bin/python3" },
    ]);
    expect(parseUpstreamEnvironments('[{"name":"default","path":"/p/bin/python"},{"name":7},"x"]')).toEqual([{ name: "default", path: "/p/bin/python" }]);
    expect(parseUpstreamEnvironments("nothing useful")).toEqual([]);
  });

  it("bounds what it keeps from a hostile answer", () => {
    const flood = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ name: `e${i}`, path: `/p${i}` })));
    expect(parseUpstreamEnvironments(flood).length).toBeLessThanOrEqual(256);
  });

  it("says when pipgate's default is not the upstream's, or the upstream has no default at all", async () => {
    const prefixes: Record<string, string> = {
      "/srv/venvs/app/bin/python": "/srv/venvs/app",
      "/srv/venvs/app/bin/python3": "/srv/venvs/app",
      "/srv/other/bin/python": "/srv/other",
    };
    const prefixOf = async (python: string) => prefixes[python];
    expect(await environmentMismatches({ default: "/srv/venvs/app/bin/python" }, parseUpstreamEnvironments(INTERPRETER_TEXT), prefixOf)).toEqual([]);
    // two spellings of one venv agree
    expect(await environmentMismatches({ default: "/srv/venvs/app/bin/python3" }, parseUpstreamEnvironments(INTERPRETER_TEXT), prefixOf)).toEqual([]);
    const other = await environmentMismatches({ default: "/srv/other/bin/python" }, parseUpstreamEnvironments(INTERPRETER_TEXT), prefixOf);
    expect(other).toHaveLength(1);
    expect(other[0]).toContain("is not what the upstream imports");
    const missing = await environmentMismatches({ default: "/srv/venvs/app/bin/python" }, [{ name: "system", path: "/usr/bin/python3" }], prefixOf);
    expect(missing[0]).toContain('runs "default" as "system"');
  });
});
