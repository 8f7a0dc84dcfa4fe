// rules.provenance_change: approval through the whole pipeline: the first install pins publisher A; a
// release attested by publisher B is resolved in the real sandbox and queued naming both, not refused; a
// person approves it from the CLI, it is installed, and the record moves to B, so B's next release
// installs without a person. Under the default (deny) the same change is refused and nothing is queued.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildWheel, type BuiltDist } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { createTestSigstore, type TestPublisher, type TestSigstore } from "../fixtures/sigstore.js";
import { openGranted } from "../grants/open-granted.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

const A: TestPublisher = { repository: "acme/moving-lib", workflow: "release.yml" };
const B: TestPublisher = { repository: "acme-org/moving-lib", workflow: "publish.yml" };
const A_ID = "github:acme/moving-lib@.github/workflows/release.yml";
const B_ID = "github:acme-org/moving-lib@.github/workflows/publish.yml";

async function cli(args: string[]) {
  const out = { stdout: "", stderr: "" };
  const code = await main(args, { stdout: (text: string) => void (out.stdout += text), stderr: (text: string) => void (out.stderr += text) });
  return { code, ...out };
}

describe("the provenance rule's approval action for a changed publisher", () => {
  let ws: Workspace;
  let sigstore: TestSigstore;
  let granted: Awaited<ReturnType<typeof openGranted>>;

  beforeAll(async () => {
    await requireDocker();
    sigstore = createTestSigstore();
    const attested = (dist: BuiltDist, publisher: TestPublisher) => ({
      [dist.filename]: sigstore.provenance([
        { publisher, attestations: [sigstore.attest({ filename: dist.filename, sha256: dist.sha256, signer: publisher })] },
      ]),
    });
    const project = (name: string, versions: Array<[string, TestPublisher]>) => ({
      name,
      releases: versions.map(([version, publisher]) => {
        const dist = buildWheel({ name, version });
        return { version, dists: [dist], provenance: attested(dist, publisher) };
      }),
    });
    ws = await createWorkspace({
      projects: [
        project("moving-lib", [
          ["1.0", A],
          ["1.1", B],
          ["1.2", B],
        ]),
        project("pinned-lib", [
          ["1.0", A],
          ["1.1", B],
        ]),
      ],
      environments: {
        default: { allowlist: { packages: { "moving-lib": "*" }, rules: { provenance: "pinned", provenance_change: "approval" } } },
        strict: { allowlist: { packages: { "pinned-lib": "*" }, rules: { provenance: "pinned" } } },
      },
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" } }, rules: { provenance_trust_root: sigstore.trustedRootPath } },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  expires_after_hours: 24\n');
    granted = await openGranted(ws.configPath, { identity: "agent-1" });
  }, 180_000);
  afterAll(async () => {
    await granted?.close();
    await ws?.close();
    sigstore?.close();
  });

  const install = async (requirement: string, environment = "default") =>
    (await granted.client.callTool({ name: "install_package", arguments: { package_name: requirement, environment } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
  const installedVersion = async (environment: string, name: string) =>
    (await runPython(ws.pythons[environment]!, `import importlib.metadata as m; print(m.version('${name}'))`)).stdout.trim();
  const lastRecord = async (name: string) => (await granted.broker.audit.list({ package: name })).at(-1);

  it("pins A at the first install, queues B's release naming both, and approving it installs it and moves the pin to B", async () => {
    const first = await install("moving-lib==1.0");
    expect(resultText(first)).toMatch(/installed moving-lib 1\.0 into default/);
    expect((await lastRecord("moving-lib"))?.provenance).toEqual({ recorded: [{ project: "moving-lib", publisher: A_ID }] });

    const before = venvDigest(ws.pythons.default!);
    const queued = await install("moving-lib==1.1");
    expect(queued.isError, resultText(queued)).toBeFalsy();
    expect(queued.structuredContent).toMatchObject({ status: "pending", package: "moving-lib" });
    expect(resultText(queued)).toContain(
      `moving-lib was published by ${A_ID} (recorded at the first install, 1.0), but 1.1 was published by ${B_ID} (provenance_change: approval)`,
    );
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const id = String(queued.structuredContent?.approval_id);

    const shown = await cli(["approvals", "show", id, "--config", ws.configPath]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("moving-lib 1.1  needs approval: provenance");
    expect(shown.stdout).toContain(`publisher: recorded ${A_ID}, this release ${B_ID}`);

    const approved = await cli(["approvals", "approve", id, "--reason", "the project moved to its org", "--as", "maria", "--config", ws.configPath]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain("installed: installed moving-lib 1.1");
    expect(approved.stdout).toContain(`moving-lib's recorded publisher moved from ${A_ID} to ${B_ID} (approved)`);
    expect(await installedVersion("default", "moving-lib")).toBe("1.1");
    const record = await lastRecord("moving-lib");
    expect(record?.outcome).toBe("installed");
    expect(record?.provenance).toEqual({ repinned: [{ project: "moving-lib", from: A_ID, to: B_ID, approval: id }] });

    const list = await cli(["provenance", "list", "--config", ws.configPath]);
    expect(list.stdout).toMatch(new RegExp(`^moving-lib  ${B_ID.replace(/[.]/g, "\\.")}  first 1\\.1 at `, "m"));
  }, 600_000);

  it("then B's next release installs without a person", async () => {
    const next = await install("moving-lib==1.2");
    expect(next.isError, resultText(next)).toBeFalsy();
    expect(resultText(next)).toMatch(/installed moving-lib 1\.2 into default/);
    expect(await installedVersion("default", "moving-lib")).toBe("1.2");
  }, 300_000);

  it("with the default action (deny) the same change is refused outright, naming both, and nothing is queued", async () => {
    expect(resultText(await install("pinned-lib==1.0", "strict"))).toMatch(/installed pinned-lib 1\.0 into strict/);
    const refused = await install("pinned-lib==1.1", "strict");
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ status: "denied" });
    expect(resultText(refused)).toContain(
      `pinned-lib was published by ${A_ID} (recorded at the first install, 1.0), but 1.1 was published by ${B_ID} (provenance_change: deny)`,
    );
    expect((await granted.control.approvals?.list(["pending"])) ?? []).toEqual([]);
    expect(await installedVersion("strict", "pinned-lib")).toBe("1.0");
  }, 300_000);
});
