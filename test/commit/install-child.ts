// A real broker for the kill sweep, run with vite-node: openPipgate on a pipgate.yaml, one install
// through runInstall (the install_package path), stopped at a chosen point so the test can SIGKILL it
// there. Where the commit has a fault hook the stop is that hook; elsewhere it wraps the broker's own
// collaborators. The marker file says the point was reached (and what the process saw there).
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { openApp } from "../support/app.js";
import type { CommitFaults } from "../../src/commit/request.js";
import { loadConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import type { PipelineDeps } from "../../src/pipeline/deps.js";
import { runInstall } from "../../src/pipeline/install.js";
import { createDockerRunner, type SandboxRunner } from "../../src/sandbox/docker.js";
import { validateInstallArguments } from "../../src/validate/tool-arguments.js";

export const KILL_POINTS = [
  "before-sandbox",
  "during-sandbox",
  "before-commit",
  "before-pip",
  "during-pip",
  "during-direct",
  "after-pip",
  "after-commit",
  "after-outcome",
] as const;

const ArgsSchema = z.object({
  config: z.string(),
  environment: z.string(),
  requirement: z.string(),
  point: z.enum(KILL_POINTS),
  /** during-direct: stop after this many files written. */
  files: z.number().int().positive().optional(),
  marker: z.string(),
});

const args = ArgsSchema.parse(JSON.parse(process.argv[2] ?? "{}"));
const mark = (seen: Record<string, unknown> = {}): void => writeFileSync(args.marker, JSON.stringify({ pid: process.pid, ...seen }));

/** Stops here with the event loop alive: nothing else of this install runs until the kill. */
const stop = async (seen: Record<string, unknown> = {}): Promise<never> => {
  mark(seen);
  return new Promise<never>(() => {
    setInterval(() => undefined, 1000);
  });
};

/** Stops the whole process at once, inside a callback: the sandbox container runs on without it. */
const freeze = (seen: Record<string, unknown> = {}): void => {
  mark(seen);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
};

const loaded = loadConfig(args.config);
if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
const log = silentLogger();
const docker = createDockerRunner(loaded.config.sandbox.docker_socket, log);
const sandbox: SandboxRunner = {
  run: async (spec, options) => {
    if (args.point === "before-sandbox") await stop();
    if (args.point !== "during-sandbox") return docker.run(spec, options);
    return docker.run(spec, {
      ...options,
      onEvent: (event) => {
        options.onEvent?.(event);
        if (event.stage === "resolving") freeze({ request: spec.labels["org.pipgate.request"] });
      },
    });
  },
  imagePython: (image) => docker.imagePython(image),
  ping: () => docker.ping(),
  runtimes: () => docker.runtimes(),
};
const faults: CommitFaults = {
  ...(args.point === "before-pip" ? { beforePip: () => stop() } : {}),
  ...(args.point === "during-pip" ? { duringPip: (pipPid: number) => stop({ pipPid }) } : {}),
  ...(args.point === "during-direct" ? { duringDirect: (written: number) => (written === args.files ? stop({ written }) : undefined) } : {}),
  ...(args.point === "after-pip" ? { afterPip: () => stop() } : {}),
};

const broker = (await openApp(loaded.config, log, { sandbox, commitFaults: faults })).broker;
const deps: PipelineDeps = {
  ...broker.pipeline,
  commit: async (...commit) => {
    if (args.point === "before-commit") await stop();
    const result = await broker.pipeline.commit(...commit);
    if (args.point === "after-commit") await stop({ committed: result.ok });
    return result;
  },
};
const raw = { package_name: args.requirement, environment: args.environment };
const validated = validateInstallArguments(raw, { environments: broker.environments.names(), timeoutMax: loaded.config.sandbox.timeout_max });
if (!validated.ok) throw new Error(validated.refusal.message);
const result = await runInstall(deps, { identity: "sweep-agent", tool: "install_package", rawArguments: raw, args: validated.args });
if (args.point === "after-outcome") await stop({ status: result.status });
// The point was never reached: say how the install ended instead, and exit.
mark({ finished: result.status, message: result.message });
broker.close();
