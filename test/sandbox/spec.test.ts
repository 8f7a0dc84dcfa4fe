import { describe, expect, it } from "vitest";
import { SandboxSchema } from "../../src/config/schema.js";
import { parseDriverEvent } from "../../src/sandbox/boundary/streams.js";
import { imageFor, resolveSpec } from "../../src/sandbox/spec.js";

const limits = SandboxSchema.parse({ memory_mb: 512, pids: 64, cpus: 1.5 });
const paths = { runtimeDir: "/repo/sandbox/runtime", socketDir: "/tmp/pipgate-sock-1.2-abc" };
const run = { requestId: "req_1", stateDir: "/state", broker: "4242.99", host: "host-a", deadline: 1_700_000_000_000 };

describe("the sandbox container spec", () => {
  const spec = resolveSpec({ requirement: "demo==1.0", onlyBinary: false, upgrade: false, installed: [] }, "pipgate-sandbox:py3.11", limits, paths, run, 30);

  it("has no network, a read-only root, no capabilities, no privilege gain and an unprivileged user", () => {
    expect(spec.hostConfig.NetworkMode).toBe("none");
    expect(spec.hostConfig.ReadonlyRootfs).toBe(true);
    expect(spec.hostConfig.CapDrop).toEqual(["ALL"]);
    expect(spec.hostConfig.SecurityOpt).toContain("no-new-privileges");
    expect(spec.user).toBe("65534:65534");
  });

  it("carries the configured limits", () => {
    expect(spec.hostConfig.PidsLimit).toBe(64);
    expect(spec.hostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(spec.hostConfig.MemorySwap).toBe(spec.hostConfig.Memory);
    expect(spec.hostConfig.NanoCpus).toBe(1_500_000_000);
  });

  it("mounts nothing of the host writable: the runtime and the proxy's socket directory read-only, /out a sized tmpfs", () => {
    expect(spec.hostConfig.Binds).toEqual(["/repo/sandbox/runtime:/opt/pipgate:ro", "/tmp/pipgate-sock-1.2-abc:/run/pipgate:ro"]);
    expect(Object.keys(spec.hostConfig.Tmpfs).sort()).toEqual(["/out", "/tmp"]);
    expect(spec.hostConfig.Tmpfs["/out"]).toContain(`size=${limits.out_max_mb}m`);
    expect(spec.hostConfig.LogConfig.Type).toBe("none");
  });

  it("runs under the configured runtime, and the container ends itself after its timeout", () => {
    expect(spec.hostConfig.Runtime).toBe("runc");
    expect(
      resolveSpec(
        { requirement: "demo==1.0", onlyBinary: false, upgrade: false, installed: [] },
        "i",
        SandboxSchema.parse({ runtime: "runsc" }),
        paths,
        run,
        30,
      ).hostConfig.Runtime,
    ).toBe("runsc");
    expect(spec.cmd).toContain("--deadline=35");
  });

  it("points pip at the loopback forwarder and never at the host's configuration", () => {
    const config = JSON.parse(spec.cmd.at(-1)!) as { index_url: string; requirement: string };
    expect(config.index_url).toBe("http://127.0.0.1:8765/simple/");
    expect(config.requirement).toBe("demo==1.0");
    expect(spec.env).toContain("PIP_CONFIG_FILE=/dev/null");
    expect(spec.env.some((entry) => entry.startsWith("PIP_INDEX_URL") || entry.startsWith("PIP_EXTRA"))).toBe(false);
  });

  it("labels the container with its request and broker", () => {
    expect(spec.labels).toEqual({
      "org.pipgate.request": "req_1",
      "org.pipgate.role": "resolve",
      "org.pipgate.state-dir": "/state",
      "org.pipgate.broker": "4242.99",
      "org.pipgate.host": "host-a",
      "org.pipgate.deadline": "1700000000000",
    });
  });
});

describe("images and driver events", () => {
  it("chooses the image by the interpreter's minor version unless one is configured", () => {
    expect(imageFor("3.11.7", undefined)).toBe("pipgate-sandbox:py3.11");
    expect(imageFor("3.12.1", undefined)).toBe("pipgate-sandbox:py3.12");
    expect(imageFor("3.11.7", "mine:latest")).toBe("mine:latest");
  });

  it("reads only well-formed driver lines", () => {
    expect(parseDriverEvent('@@pipgate {"stage":"done"}')).toEqual({ stage: "done" });
    expect(parseDriverEvent("@@pipgate not json")).toBeUndefined();
    expect(parseDriverEvent('{"stage":"done"}')).toBeUndefined();
    expect(parseDriverEvent("@@pipgate 42")).toBeUndefined();
  });
});
