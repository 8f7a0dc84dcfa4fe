import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildWheel } from "../fixtures/dists.js";
import { capture } from "../support/cli-io.js";
import { runPython } from "../fixtures/pip.js";
import { createTestSigstore, type TestPublisher, type TestSigstore } from "../fixtures/sigstore.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

type Rule = { rule: string; outcome: string; detail: string };
type DecisionOut = { allowed: boolean; reason?: string; rules: Rule[] };

const GOOD: TestPublisher = { repository: "acme/attested-lib", workflow: "release.yml", environment: "pypi" };
const EVIL: TestPublisher = { repository: "evil/attested-lib", workflow: "x.yml" };
const GOOD_ID = "github:acme/attested-lib@.github/workflows/release.yml environment:pypi";
const EVIL_ID = "github:evil/attested-lib@.github/workflows/x.yml";

/**
 * rules.provenance: pinned through the whole pipeline against the local index's Integrity API and a
 * generated trust root: check_package lists the rule, a real install (sandbox, verify, commit) records
 * the first publisher and says so in the audit record, and a later release from another publisher is
 * refused with both identities named.
 */
describe("the provenance rule through check_package and install", () => {
  let ws: Workspace;
  let sigstore: TestSigstore;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    sigstore = createTestSigstore();
    const v10 = buildWheel({ name: "attested-lib", version: "1.0" });
    const v11 = buildWheel({ name: "attested-lib", version: "1.1" });
    const provenance = (dist: typeof v10, publisher: TestPublisher) => ({
      [dist.filename]: sigstore.provenance([
        { publisher, attestations: [sigstore.attest({ filename: dist.filename, sha256: dist.sha256, signer: publisher })] },
      ]),
    });
    ws = await createWorkspace({
      projects: [
        {
          name: "attested-lib",
          releases: [
            { version: "1.0", dists: [v10], provenance: provenance(v10, GOOD) },
            { version: "1.1", dists: [v11], provenance: provenance(v11, EVIL) },
          ],
        },
      ],
      environments: { default: { allowlist: { packages: { "attested-lib": "*" }, rules: { provenance: "pinned" } } } },
      config: { rules: { provenance_trust_root: sigstore.trustedRootPath } },
    });
    server = await openInProcess(ws.configPath);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await ws?.close();
    sigstore?.close();
  });

  const checkPackage = async (name: string) => {
    const result = (await server.client.callTool({ name: "check_package", arguments: { package_name: name } })) as ToolResult;
    return (result.structuredContent as { decision: DecisionOut }).decision;
  };
  const provenanceRule = (decision: { rules: Rule[] } | undefined) => decision?.rules.find((rule) => rule.rule === "provenance");
  const lastRecord = async () => (await server.broker.audit.list({ package: "attested-lib" })).at(-1);

  it("check_package verifies the attestation before any install and lists the rule, in the result and the audit record", async () => {
    const decision = await checkPackage("attested-lib==1.0");
    expect(decision.allowed).toBe(true);
    const expected = {
      rule: "provenance",
      outcome: "pass",
      detail: `attested-lib 1.0: 1 file attested by ${GOOD_ID}; recorded as the publisher at the first install`,
    };
    expect(provenanceRule(decision)).toEqual(expected);
    expect(provenanceRule((await lastRecord())?.decision as { rules: Rule[] })).toEqual(expected);
  });

  it("installs 1.0 and records its publisher as the project's first, in the audit record", async () => {
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "attested-lib==1.0" } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(resultText(result)).toMatch(/installed attested-lib 1\.0 into default/);
    const record = await lastRecord();
    expect(record?.outcome).toBe("installed");
    expect(record?.provenance).toEqual({ recorded: [{ project: "attested-lib", publisher: GOOD_ID }] });
    expect(provenanceRule(record?.decision as { rules: Rule[] })?.outcome).toBe("pass");
    expect((await runPython(ws.pythons.default!, "import attested_lib")).exitCode).toBe(0);
  }, 300_000);

  it("then refuses 1.1, published by another identity, naming both", async () => {
    const decision = await checkPackage("attested-lib==1.1");
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe(
      `attested-lib 1.1 is refused: attested-lib was published by ${GOOD_ID} (recorded at the first install, 1.0), but 1.1 was published by ${EVIL_ID} (provenance_change: deny) (provenance)`,
    );
    expect(provenanceRule((await lastRecord())?.decision as { rules: Rule[] })?.outcome).toBe("fail");
    const upgrade = (await server.client.callTool({ name: "install_package", arguments: { package_name: "attested-lib", upgrade: true } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(upgrade.isError).toBe(true);
    expect(resultText(upgrade)).toContain(`but 1.1 was published by ${EVIL_ID}`);
    expect((await lastRecord())?.outcome).toBe("denied");
    const version = await runPython(ws.pythons.default!, "import importlib.metadata as m; print(m.version('attested-lib'))");
    expect(version.stdout.trim()).toBe("1.0");
  }, 300_000);

  it("pipgate provenance list shows the record; forget lets the next release record its publisher afresh", async () => {
    const list = capture();
    expect(await main(["provenance", "list", "--config", ws.configPath], list)).toBe(0);
    expect(list.out()).toMatch(new RegExp(`^attested-lib  ${GOOD_ID.replace(/[.]/g, "\\.")}  first 1\\.0 at \\d{4}-`));
    const forget = capture();
    expect(await main(["provenance", "forget", "Attested_Lib", "--config", ws.configPath], forget)).toBe(0);
    expect(forget.out()).toContain(`forgot attested-lib: ${GOOD_ID}`);
    const decision = await checkPackage("attested-lib==1.1");
    expect(decision.allowed).toBe(true);
    expect(provenanceRule(decision)?.detail).toBe(`attested-lib 1.1: 1 file attested by ${EVIL_ID}; recorded as the publisher at the first install`);
    const again = capture();
    expect(await main(["provenance", "forget", "attested-lib", "--config", ws.configPath], again)).toBe(1);
  });
});
