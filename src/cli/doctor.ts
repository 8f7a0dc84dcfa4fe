import { accessSync, constants, mkdirSync } from "node:fs";
import { sqliteState } from "../store/sqlite.js";
import { loadAllowlist } from "../config/allowlist.js";
import { allowlistFiles } from "../config/allowlist-files.js";
import { createEnvironments } from "../config/environments.js";
import { createLogger } from "../log.js";
import { createDockerRunner } from "../sandbox/docker.js";
import { imageFor, pythonMinor } from "../sandbox/spec.js";
import { errorMessage } from "../errors.js";
import { openStateDb, type Db } from "../state/db.js";
import { brokerIdOf } from "../state/broker-id.js";
import { openSharedState } from "../store/shared.js";
import type { StateStore } from "../store/index.js";
import { indexFromConfig } from "../index/from-config.js";
import { loadPolicy } from "../config/policy-file.js";
import { gatewayConfigured, unknownPolicyTools } from "../config/policy-tools.js";
import { configuredUpstreamKey, pinStatus } from "../gateway/pins.js";
import { pythonPrefix } from "../config/python.js";
import type { LoadedConfig } from "../config/schema.js";
import type { UpstreamConfig } from "../config/upstream-schema.js";
import { environmentMismatches, parseUpstreamEnvironments } from "../gateway/environment-names.js";
import { transportFor } from "../gateway/transports.js";
import { openUpstreamSession } from "../gateway/upstream.js";
import { upstreamChecks, type DoctorCheck } from "./doctor-upstream.js";
import { osvStatus, osvStatusLine } from "../osv/status.js";
import { cliLogger, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

export const doctorHelp: CommandHelp = {
  usage:
    "usage: pipgate doctor [--json] [--config FILE]\n" +
    "  one line per thing that must be right before agents are let in: the Docker engine and runtime, the\n" +
    "  sandbox images, the environments and allowlists, the policy, the upstream, the index, the state\n" +
    "  directory and the audit chain; exit 1 when any line says FAIL\n",
};

type Check = DoctorCheck;

/**
 * Gateway mode: starts the upstream once and compares its list_python_environments with pipgate's
 * environments, so an install into `default` is what the upstream's `default` imports.
 */
async function upstreamEnvironmentsCheck(upstream: UpstreamConfig, config: LoadedConfig): Promise<Check> {
  const name = "upstream environments";
  const log = createLogger("silent");
  const pythons = Object.fromEntries(Object.entries(config.environments).map(([env, { python }]) => [env, python]));
  const opened = await openUpstreamSession(transportFor(upstream, log, config), {
    log,
    restart: upstream.restart,
    clientInfo: { name: "pipgate-doctor", version: "0.1.0" },
  });
  if (!opened.ok) return { name, ok: false, detail: `the upstream did not start: ${opened.error}` };
  const session = opened.value;
  try {
    const tools = await session.listTools({ timeoutMs: 20_000 });
    if (!tools.ok) return { name, ok: false, detail: `the upstream did not list its tools: ${tools.error}` };
    if (!tools.value.some((tool) => tool.name === "list_python_environments"))
      return { name, ok: true, detail: "the upstream names no Python environments (no list_python_environments tool)" };
    const listed = await session.callTool("list_python_environments", {}, { timeoutMs: 30_000 });
    if (!listed.ok) return { name, ok: false, detail: `list_python_environments failed: ${listed.error}` };
    const text = listed.value.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");
    const prefixOf = async (python: string) => {
      const prefix = await pythonPrefix(python);
      return prefix.ok ? prefix.value : undefined;
    };
    const problems = await environmentMismatches(pythons, parseUpstreamEnvironments(text), prefixOf);
    return {
      name,
      ok: problems.length === 0,
      detail: problems.length === 0 ? `pipgate's environments are the upstream's: ${Object.keys(pythons).join(", ")}` : problems.join("; "),
    };
  } finally {
    await session.close();
  }
}

/** `pipgate doctor`: one line per thing that must be right before agents are let in. */
export const doctor: Subcommand = async (argv, io, context) => {
  const { values } = parseCli(argv, { json: { type: "boolean", default: false } }, false);
  const config = requireConfig(values.config);
  const log = cliLogger(context, "silent");
  const checks: Check[] = [];
  const runner = createDockerRunner(config.sandbox.docker_socket, log);
  const engine = await runner.ping();
  checks.push({
    name: "docker engine",
    ok: engine,
    detail: engine ? config.sandbox.docker_socket : `not reachable at ${config.sandbox.docker_socket}; start dockerd (scripts/setup-host.sh)`,
  });
  const runtime = config.sandbox.runtime;
  const registered = engine ? await runner.runtimes().catch(() => [] as string[]) : [];
  checks.push({
    name: "sandbox runtime",
    ok: engine && registered.includes(runtime),
    detail: !engine
      ? `${runtime} cannot be checked: the Docker engine is not reachable`
      : registered.includes(runtime)
        ? `${runtime} (${runtime === "runsc" ? "gVisor: builds run on a user-space kernel" : "the engine's default; sandbox.runtime: runsc for gVisor"})`
        : `${runtime} is not registered with the Docker engine (it has ${registered.join(", ") || "none"}): ` +
          (runtime === "runsc"
            ? `install runsc and add {"runtimes":{"runsc":{"path":"/usr/bin/runsc","runtimeArgs":["--network=none","--host-uds=open"]}}} to /etc/docker/daemon.json, then reload dockerd (kill -HUP)`
            : "check the engine's configuration"),
  });

  let stateProblem: string | undefined;
  let db: Db | undefined;
  try {
    mkdirSync(config.state_dir, { recursive: true });
    accessSync(config.state_dir, constants.W_OK);
    // A damaged database is exactly what doctor is for: report it instead of crashing on it.
    db = openStateDb(config.state_dir);
  } catch (error) {
    stateProblem = errorMessage(error);
  }
  checks.push({
    name: "state directory",
    ok: stateProblem === undefined,
    detail: stateProblem === undefined ? config.state_dir : `${config.state_dir}: ${stateProblem}`,
  });

  const environments = createEnvironments(config, log);
  for (const name of environments.names()) {
    const env = await environments.get(name);
    if (!env.ok) {
      checks.push({ name: `environment ${name}`, ok: false, detail: env.error });
      continue;
    }
    const status = environments.status().find((entry) => entry.environment === name);
    checks.push({
      name: `environment ${name}`,
      ok: status?.error === undefined,
      detail: `Python ${env.env.pythonVersion}, ${env.env.allowlist.packages.size} allowed package(s)${status?.error === undefined ? "" : `; allowlist edit rejected, last good version in force: ${status.error}`}`,
    });
    const image = imageFor(env.env.pythonVersion, config.sandbox.image);
    const carries = engine ? await runner.imagePython(image) : undefined;
    const minor = pythonMinor(env.env.pythonVersion);
    checks.push({
      name: `sandbox image for ${name}`,
      ok: carries === minor,
      detail: !engine
        ? `${image} cannot be checked: the Docker engine is not reachable`
        : carries === undefined
          ? `${image} is missing: run pipgate sandbox build-image`
          : carries === minor
            ? `${image} (Python ${carries})`
            : `${image} carries Python ${carries}, ${name} needs ${minor}`,
    });
  }

  // The policy and the grants' overlays are reloaded on change, like allowlists: an edit a running server refused shows here.
  if (config.policy !== undefined) {
    const policy = loadPolicy(config.policy, { gateway: gatewayConfigured(config) });
    checks.push({ name: "policy", ok: policy.ok, detail: policy.ok ? config.policy : policy.issues.join("; ") });
    // gateway mode: a policy name that neither pipgate nor the upstream (as last listed) offers limits nothing
    const upstreamKey = configuredUpstreamKey(config);
    if (policy.ok && upstreamKey !== undefined && db !== undefined) {
      const upstreamTools = pinStatus(db, upstreamKey).map((pin) => pin.name);
      if (upstreamTools.length > 0) {
        const strays = unknownPolicyTools(policy.policy, upstreamTools, config.grants);
        checks.push({
          name: "policy tool names",
          ok: strays.length === 0,
          detail:
            strays.length === 0
              ? `every tool the policy names is pipgate's or the upstream's`
              : strays.map((stray) => `${stray.where}: no such tool${stray.suggestion === undefined ? "" : `; did you mean ${stray.suggestion}?`}`).join("; "),
        });
      }
    }
  }
  for (const file of allowlistFiles(config).filter((entry) => entry.kind === "overlay")) {
    const overlay = loadAllowlist(file.path);
    checks.push({ name: `grant ${file.name} overlay`, ok: overlay.ok, detail: overlay.ok ? file.path : overlay.issues.join("; ") });
  }

  const containment = await upstreamChecks(config, runner, engine, registered);
  checks.push(...containment);
  // A contained upstream that cannot start (its plan or image failed above) would only fail the same way again here.
  if (config.upstream !== undefined && containment.every((check) => check.ok)) {
    checks.push(await upstreamEnvironmentsCheck(config.upstream, config));
  }

  const configured = await indexFromConfig(config, { retries: 0, cacheTtlSeconds: 0 });
  if (!configured.ok) checks.push({ name: "index", ok: false, detail: configured.error });
  else {
    const { index } = configured.value;
    const probe = await index.project("pip");
    const reachable = probe.ok || probe.error.kind === "not-found";
    checks.push({ name: "index", ok: reachable, detail: reachable ? index.url : `${index.url}: ${probe.error.message}` });
    // Each named index is asked too: an unreachable one refuses every unbound name (fail closed).
    for (const endpoint of configured.value.indexes.named.values()) {
      const asked = await endpoint.client.project("pip");
      const ok = asked.ok || asked.error.kind === "not-found";
      checks.push({ name: `index ${endpoint.name}`, ok, detail: ok ? endpoint.client.url : `${endpoint.client.url}: ${asked.error.message}` });
    }
  }

  if (config.osv !== undefined) {
    const now = new Date();
    const { status, view } = await osvStatus(config.osv, now);
    checks.push({ name: "osv database", ok: status.ok, detail: osvStatusLine(status, now, view) });
  }

  // In a fleet the chain, the queue and the limits live in the shared database: that is the one to check.
  let shared: StateStore | undefined;
  if (config.database !== undefined) {
    try {
      shared = await openSharedState(config, log);
      const brokerId = db === undefined ? undefined : brokerIdOf(db);
      checks.push({
        name: "state database",
        ok: true,
        detail: `shared (fleet mode), schema current${brokerId === undefined ? "" : `; this broker is ${brokerId}`}`,
      });
    } catch (error) {
      checks.push({ name: "state database", ok: false, detail: errorMessage(error) });
    }
  }
  const store = config.database !== undefined ? shared : db === undefined ? undefined : sqliteState(db);
  const where = shared === undefined ? "" : " (shared)";
  if (store === undefined) {
    checks.push({
      name: "audit chain",
      ok: false,
      detail: `cannot be checked: the ${config.database === undefined ? "state" : "shared"} database did not open`,
    });
  } else {
    try {
      const chain = await store.audit.verify();
      checks.push({
        name: "audit chain",
        ok: chain.ok,
        detail: chain.ok
          ? `intact${where}, ${chain.count} record(s)`
          : `broken${where} at ${chain.firstBad.id} (${chain.firstBad.problem}): run pipgate audit verify`,
      });
    } catch (error) {
      checks.push({ name: "audit chain", ok: false, detail: `cannot be read: ${errorMessage(error)}` });
    }
  }
  await shared?.close();
  db?.close();

  if (values.json) io.stdout(`${JSON.stringify(checks, null, 2)}\n`);
  else for (const check of checks) io.stdout(`${!check.ok ? "FAIL" : check.warning === true ? "WARN" : "ok  "}  ${check.name}: ${check.detail}\n`);
  return checks.every((check) => check.ok) ? EXIT.ok : EXIT.failure;
};
