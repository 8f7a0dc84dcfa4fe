import { describe, expect, it } from "vitest";
import { SandboxSchema } from "../../src/config/schema.js";
import { differs } from "../../src/sandbox/pool.js";
import { LABELS } from "../../src/sandbox/reaper.js";
import { poolSpec, resolveSpec } from "../../src/sandbox/spec.js";

// A pooled container is made before its request: it may serve a request only if everything fixed at
// create time is what resolveSpec would have given that request's own container.
const limits = SandboxSchema.parse({ memory_mb: 512, pids: 64, cpus: 1.5 });
const paths = { runtimeDir: "/repo/sandbox/runtime", socketDir: "/tmp/pipgate-sock-1.2-abc" };
const now = 1_700_000_000_000;
const pooled = {
  spec: poolSpec("pipgate-sandbox:py3.11", limits, paths, { stateDir: "/state", broker: "4242.99", host: "host-a", deadline: now + 3_600_000 }, 600),
  deadline: now + 3_600_000,
};
const job = { requirement: "demo==1.0", onlyBinary: false, upgrade: false, installed: [] };
const request = (over: { limits?: typeof limits; socketDir?: string; image?: string; deadline?: number } = {}) =>
  resolveSpec(
    job,
    over.image ?? "pipgate-sandbox:py3.11",
    over.limits ?? limits,
    { ...paths, socketDir: over.socketDir ?? paths.socketDir },
    { requestId: "req_1", stateDir: "/state", broker: "4242.99", host: "host-a", deadline: over.deadline ?? now + 960_000 },
    900,
  );

describe("whether a pooled container fits a request", () => {
  it("fits the request made from the same configuration: only the command and the labels differ", () => {
    expect(differs(pooled, request())).toBeUndefined();
    expect(pooled.spec.cmd).not.toEqual(request().cmd);
    expect(pooled.spec.labels[LABELS.role]).toBe("pool");
  });

  it("does not fit another image, runtime, limit, socket directory or a later deadline", () => {
    expect(differs(pooled, request({ image: "pipgate-sandbox:py3.12" }))).toBe("image");
    expect(differs(pooled, request({ limits: SandboxSchema.parse({ memory_mb: 512, pids: 64, cpus: 1.5, runtime: "runsc" }) }))).toBe("hostConfig");
    expect(differs(pooled, request({ limits: SandboxSchema.parse({ memory_mb: 1024, pids: 64, cpus: 1.5 }) }))).toBe("hostConfig");
    expect(differs(pooled, request({ socketDir: "/tmp/pipgate-sock-other" }))).toBe("hostConfig");
    expect(differs(pooled, request({ deadline: now + 3_600_001 }))).toBe("deadline");
  });

  it("does not fit a request whose environment differs", () => {
    const spec = request();
    expect(differs(pooled, { ...spec, env: [...spec.env, "EXTRA=1"] })).toBe("env");
    expect(differs(pooled, { ...spec, user: "0:0" })).toBe("user");
  });
});
