import { execa } from "execa";

/**
 * pip's own PEP 440 / PEP 508 implementation (the `packaging` vendored in the host's pip), run in a
 * real python3 process: the oracle pipgate's parser and matcher are compared against.
 */
const ORACLE = String.raw`
import json, sys
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.specifiers import SpecifierSet
from pip._vendor.packaging.utils import canonicalize_name
out = []
for line in sys.stdin:
    q = json.loads(line)
    try:
        if q["op"] == "contains":
            out.append(SpecifierSet(q["specifier"]).contains(q["version"]))
        else:
            r = Requirement(q["requirement"])
            out.append({"name": canonicalize_name(r.name), "extras": sorted(set(canonicalize_name(e) for e in r.extras)),
                        "specifier": sorted(str(s) for s in r.specifier), "url": r.url, "marker": str(r.marker) if r.marker else None})
    except Exception as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
`;

export type OracleQuery = { op: "contains"; version: string; specifier: string } | { op: "parse"; requirement: string };

/** Asks pip's packaging about many queries in one process; answers come back in order. */
export async function askPackaging(queries: readonly OracleQuery[]): Promise<unknown[]> {
  const input = queries.map((query) => JSON.stringify(query)).join("\n");
  const { stdout } = await execa("python3", ["-I", "-c", ORACLE], { input, env: { PYTHONIOENCODING: "utf-8" } });
  return JSON.parse(stdout) as unknown[];
}
