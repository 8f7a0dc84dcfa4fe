import { containedSettings } from "../config/contained-paths.js";
import type { LoadedConfig } from "../config/schema.js";
import { containedSetup } from "../gateway/contained-transport.js";
import { upstreamEnv } from "../gateway/transports.js";
import type { SandboxRunner } from "../sandbox/docker.js";

/** One line of `pipgate doctor`: ok, a failure, or (warning) a working set-up that is not safe. */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  warning?: boolean;
}

/**
 * Gateway mode's part of the health report. An uncontained stdio upstream is a loud warning: whatever code
 * it runs can install into the environments behind pipgate's back and reach the network. A contained one
 * lists what it will see of the host, computed as a start computes it (the interpreters are asked), and
 * whether its image and runtime are there.
 */
export async function upstreamChecks(config: LoadedConfig, runner: SandboxRunner, engine: boolean, registered: readonly string[]): Promise<DoctorCheck[]> {
  const upstream = config.upstream;
  if (upstream?.command === undefined) return [];
  const settings = containedSettings(upstream);
  if (settings === undefined) {
    return [
      {
        name: "upstream containment",
        ok: true,
        warning: true,
        detail:
          "WARNING: the upstream runs uncontained: code sent to it (run_python_code) can pip install or write .pth files into the environments' site-packages " +
          "behind pipgate's back and reach the network. Set upstream.sandbox: true (with upstream.cwd, or upstream.sandbox.workdir) to run it in a container " +
          "that reads the environments but cannot change them and has no network",
      },
    ];
  }
  const setup = await containedSetup({
    settings,
    command: upstream.command,
    env: upstreamEnv(upstream.env),
    environments: Object.fromEntries(Object.entries(config.environments).map(([name, env]) => [name, env.python])),
    sandbox: config.sandbox,
    stateDir: config.state_dir,
    maxMessageBytes: upstream.max_message_kb * 1024,
  });
  if (!setup.ok) return [{ name: "upstream containment", ok: false, detail: `the contained upstream cannot start: ${setup.error}` }];
  const { image, runtime, user, mounts } = setup.value;
  const checks: DoctorCheck[] = [
    {
      name: "upstream containment",
      ok: true,
      detail: `contained: no network, read-only root, no capabilities, user ${user}, ${settings.memory_mb} MB, ${settings.pids} pids, ${settings.cpus} CPU(s)`,
    },
  ];
  const carries = engine ? await runner.imagePython(image) : undefined;
  checks.push({
    name: "upstream image",
    ok: engine && carries !== undefined,
    detail: !engine
      ? `${image} cannot be checked: the Docker engine is not reachable`
      : carries === undefined
        ? `${image} is missing: run pipgate sandbox build-image, or set upstream.sandbox.image`
        : `${image} (Python ${carries})`,
  });
  checks.push({
    name: "upstream runtime",
    ok: engine && registered.includes(runtime),
    detail: !engine
      ? `${runtime} cannot be checked: the Docker engine is not reachable`
      : registered.includes(runtime)
        ? runtime
        : `${runtime} is not registered with the Docker engine (it has ${registered.join(", ") || "none"})`,
  });
  for (const mount of mounts) {
    checks.push({
      name: "upstream mount",
      ok: true,
      detail: `${mount.mode} ${mount.target}${mount.source === mount.target ? "" : ` (from ${mount.source})`}: ${mount.why}`,
    });
  }
  return checks;
}
