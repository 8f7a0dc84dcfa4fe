import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { manualClock, openGranted } from "../grants/open-granted.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

const SEED = `{"version": "1", "default": "deny", "tools": {"install_package": {"limits": [{"counter": "install_package_rate", "window": "minute", "max": 10, "scope": "grant"}]}}}`;

describe("the seed policy over MCP", () => {
  let ws: Workspace;
  const clock = manualClock();

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] },
        { name: "outsider", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "outsider", version: "1.0.0" })] }] },
      ],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: { policy: "policy.json", grants: { alice: { environments: "*" }, bob: { environments: ["default"] } } },
    });
    writeFileSync(join(ws.dir, "policy.json"), SEED);
  });

  afterAll(async () => {
    await ws?.close();
  });

  it("refuses alice's 11th install_package within a minute with a retry time, while bob still installs, and keeps the count across a restart", async () => {
    const alice = await openGranted(ws.configPath, { identity: "alice", now: clock.now });
    try {
      // Ten cheap calls: each is admitted (and counted) and then refused by the allowlist, no container started.
      for (let i = 0; i < 10; i += 1) {
        const result = (await alice.client.callTool({ name: "install_package", arguments: { package_name: "outsider" } })) as ToolResult;
        expect(resultText(result)).toMatch(/not on the allowlist/);
        clock.advance(1000);
      }
      const eleventh = (await alice.client.callTool({ name: "install_package", arguments: { package_name: "demo-lib" } })) as ToolResult;
      expect(eleventh.isError).toBe(true);
      expect(resultText(eleventh)).toMatch(/rate limited: install_package_rate allows 10 call\(s\) per minute for grant "alice"/);
      expect(resultText(eleventh)).toMatch(/retry after \S+Z \(in 50 s\)/);
      expect(eleventh.structuredContent).toMatchObject({ status: "rate-limited", retry_after_seconds: 50, package: "demo-lib" });
      expect(alice.sandbox.launches).toBe(0);
      const limited = await alice.broker.audit.list({ outcome: "rate-limited" });
      expect(limited).toHaveLength(1);
      expect(limited[0]).toMatchObject({ identity: "alice", tool: "install_package", package: "demo-lib" });
      // Tools the seed policy does not name are refused under its default deny, and audited.
      const listed = (await alice.client.callTool({ name: "list_environments", arguments: {} })) as ToolResult;
      expect(listed.isError).toBe(true);
      expect(resultText(listed)).toMatch(/the policy does not allow list_environments/);
      expect((await alice.broker.audit.list({ tool: "list_environments" }))[0]?.outcome).toBe("denied");
    } finally {
      await alice.close();
    }

    const bob = await openGranted(ws.configPath, { identity: "bob", now: clock.now });
    try {
      const result = (await bob.client.callTool({ name: "install_package", arguments: { package_name: "demo-lib" } }, undefined, {
        timeout: 120_000,
      })) as ToolResult;
      expect(resultText(result)).toContain("installed demo-lib 1.0.0");
      expect(bob.sandbox.launches).toBe(1);
      const imported = await runPython(ws.pythons.default!, "import demo_lib; print(demo_lib.__version__)");
      expect(imported.stdout.trim()).toBe("1.0.0");
    } finally {
      await bob.close();
    }

    // A new broker on the same state directory: alice's ten calls still count.
    const restarted = await openGranted(ws.configPath, { identity: "alice", now: clock.now });
    try {
      const again = (await restarted.client.callTool({ name: "install_package", arguments: { package_name: "outsider" } })) as ToolResult;
      expect(again.structuredContent).toMatchObject({ status: "rate-limited" });
      // Once the oldest call leaves the window, one more is admitted (and refused by the allowlist as usual).
      clock.advance(60_000);
      const later = (await restarted.client.callTool({ name: "install_package", arguments: { package_name: "outsider" } })) as ToolResult;
      expect(resultText(later)).toMatch(/not on the allowlist/);
      expect(restarted.sandbox.launches).toBe(0);
    } finally {
      await restarted.close();
    }
  });
});
