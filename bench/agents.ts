import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createAuditLog } from "../src/audit/store.js";
import { openStateDb } from "../src/state/db.js";
import { AGENT_PACKAGES, CHECKED_PACKAGES } from "./catalogue.js";
import { readProcessMemory, sampleMemory } from "./memory.js";
import { callTool, startServe, type ServeProcess } from "./serve-process.js";
import type { VenvFactory } from "./venvs.js";
import { writeBenchConfig } from "./workspace.js";

export const AGENTS = 8;
export const ENVIRONMENTS = 4;

/** One call an agent makes. */
export interface AgentCall {
  agent: number;
  tool: string;
  args: Record<string, unknown>;
}

/**
 * Pure: what agent `agent` asks for. Two agents share each environment, so their installs of a
 * package of their own race for that environment's commit lock; the repeat of the install is the
 * already-satisfied path; checks and a listing fill in what agents also do.
 */
export function agentScript(agent: number): AgentCall[] {
  const environment = `env${String((agent % ENVIRONMENTS) + 1)}`;
  const own = AGENT_PACKAGES[agent % AGENT_PACKAGES.length] ?? "scribe-tool-1";
  const call = (tool: string, args: Record<string, unknown>): AgentCall => ({ agent, tool, args: { ...args, environment } });
  return [
    call("check_package", { package_name: CHECKED_PACKAGES[agent % CHECKED_PACKAGES.length] ?? "quillmark" }),
    call("install_package", { package_name: own }),
    call("check_package", { package_name: own }),
    call("list_installed_packages", {}),
    call("install_package", { package_name: own }),
    call("check_package", { package_name: "inkwell-fmt" }),
  ];
}

/** One way of running every agent's script: all at once, or one call at a time. */
export type AgentMode = "concurrent" | "sequential";

/** What one P4 run of one mode measured. */
export interface AgentRun {
  mode: AgentMode;
  wallMs: number;
  calls: number;
  errors: string[];
  auditRecords: number;
  auditChainOk: boolean;
  /** per serve process, after connecting and before any call */
  idleRssBytes: number[];
  /** per serve process, VmHWM at the end of the run (the kernel's own peak) */
  peakHwmBytes: number[];
  /** per serve process, the highest VmRSS sampled while the run was under way */
  peakSampledRssBytes: number[];
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A P4 run: eight `pipgate serve` processes over stdio (each agent's MCP client spawns its own, as a
 * stdio server is used), sharing one pipgate.yaml, state directory and four fresh venvs. The wall
 * time runs from the first call to the last answer; process start-up is not part of it, and both
 * modes pay it alike.
 */
export async function runAgents(mode: AgentMode, dir: string, venvs: VenvFactory, indexUrl: string): Promise<AgentRun> {
  mkdirSync(dir, { recursive: true });
  const environments: Record<string, string> = {};
  for (let env = 1; env <= ENVIRONMENTS; env += 1) environments[`env${String(env)}`] = await venvs.fresh(join(dir, `venv${String(env)}`));
  const stateDir = join(dir, "s");
  const configPath = writeBenchConfig(dir, { indexUrl, stateDir, environments });
  const serves: ServeProcess[] = [];
  try {
    for (let agent = 0; agent < AGENTS; agent += 1) serves.push(await startServe(configPath, `bench-agent-${String(agent + 1)}`));
    await pause(500);
    const idleRssBytes = serves.map((serve) => {
      const memory = readProcessMemory(serve.pid);
      return memory.ok ? memory.value.rssBytes : Number.NaN;
    });
    const errors: string[] = [];
    let calls = 0;
    const runCall = async (serve: ServeProcess, call: AgentCall) => {
      calls += 1;
      const outcome = await callTool(serve.client, call.tool, call.args);
      if (outcome.isError) errors.push(`agent ${String(call.agent + 1)} ${call.tool} ${JSON.stringify(call.args)}: ${outcome.text.split("\n")[0] ?? ""}`);
    };
    const sampler = sampleMemory(serves.map((serve) => serve.pid));
    const started = performance.now();
    if (mode === "concurrent") {
      await Promise.all(
        serves.map(async (serve, agent) => {
          for (const call of agentScript(agent)) await runCall(serve, call);
        }),
      );
    } else {
      for (const [agent, serve] of serves.entries()) for (const call of agentScript(agent)) await runCall(serve, call);
    }
    const wallMs = performance.now() - started;
    const peaks = sampler.stop();
    const peakHwmBytes = serves.map((serve) => {
      const memory = readProcessMemory(serve.pid);
      return memory.ok ? memory.value.hwmBytes : Number.NaN;
    });
    const peakSampledRssBytes = serves.map((serve) => peaks.get(serve.pid) ?? Number.NaN);
    for (const serve of serves)
      if (serve.stderr().includes('"level":50'))
        errors.push(
          `a serve process logged an error: ${
            serve
              .stderr()
              .split("\n")
              .find((line) => line.includes('"level":50')) ?? ""
          }`,
        );
    const db = openStateDb(stateDir);
    try {
      const audit = createAuditLog(db);
      return {
        mode,
        wallMs,
        calls,
        errors,
        auditRecords: await audit.count(),
        auditChainOk: (await audit.verify()).ok,
        idleRssBytes,
        peakHwmBytes,
        peakSampledRssBytes,
      };
    } finally {
      db.close();
    }
  } finally {
    await Promise.all(serves.map((serve) => serve.close()));
  }
}
