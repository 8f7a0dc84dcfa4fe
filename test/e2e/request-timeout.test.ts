import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Broker } from "../../src/broker.js";
import { openApp } from "../support/app.js";
import { loadConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import { runInstall } from "../../src/pipeline/install.js";
import { validateInstallArguments } from "../../src/validate/tool-arguments.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";

// `timeout` bounds the whole request, not only the sandbox: a commit still running at the deadline is
// stopped and rolled back, and the request ends timed out.
describe("the request's timeout", () => {
  let ws: Workspace;
  let broker: Broker;

  beforeAll(async () => {
    await requireDocker();
    const files = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`slowpkg/m${i}.py`, `VALUE = ${i}\n`]));
    ws = await createWorkspace({
      projects: [{ name: "slowpkg", releases: [{ version: "1.0", dists: [buildWheel({ name: "slowpkg", version: "1.0", files })] }] }],
      // Same allowlist in both: an install into "warm" leaves a verified resolution that "default" reuses,
      // so no sandbox run takes the time and what outlasts the deadline is the commit.
      environments: { warm: { allowlist: { packages: { slowpkg: "*" } } }, default: { allowlist: { packages: { slowpkg: "*" } } } },
    });
    const loaded = loadConfig(ws.configPath);
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    // Each file the installer writes takes 100 ms, one after another even though the installer writes
    // several at once: 40 files outlast a 3 s timeout.
    let slow: Promise<void> = Promise.resolve();
    const serialSleep = (): Promise<void> => (slow = slow.then(() => sleep(100)));
    broker = (await openApp(loaded.config, silentLogger(), { commitFaults: { duringDirect: serialSleep } })).broker;
  });

  afterAll(async () => {
    broker?.close();
    await ws?.close();
  });

  const install = (raw: Record<string, unknown>) => {
    const parsed = validateInstallArguments(raw, { environments: ["warm", "default"], timeoutMax: 900 });
    if (!parsed.ok) throw new Error(parsed.refusal.message);
    return runInstall(broker.pipeline, { identity: "local", tool: "install_package", rawArguments: raw, args: parsed.args });
  };

  it("stops a commit that runs past it, rolls the environment back and says timed out", async () => {
    expect((await install({ package_name: "slowpkg", environment: "warm" })).status).toBe("installed");
    const before = venvDigest(ws.pythons.default!);
    const result = await install({ package_name: "slowpkg", timeout: 3 });
    expect(((await broker.audit.list({ package: "slowpkg" })).at(-1)?.sandbox as { cached?: boolean } | undefined)?.cached).toBe(true);
    expect(result.status).toBe("timed-out");
    expect(result.message).toMatch(
      /^timed out after 3 s \(the timeout bounds the whole request, commit included\); the commit was rolled back and nothing was installed/,
    );
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect((await broker.audit.list({ package: "slowpkg" })).at(-1)?.outcome).toBe("timed-out");
  });
});
