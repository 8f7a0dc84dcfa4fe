import { cpus, loadavg, release, totalmem, freemem } from "node:os";
import { execa } from "execa";

/** The machine a run happened on: figures mean nothing without it, so the report prints it first. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  loadAverage: [number, number, number];
  kernel: string;
  node: string;
  python: string;
  pip: string;
  docker: string;
}

async function firstLine(command: string, args: string[]): Promise<string> {
  const result = await execa(command, args, { reject: false, timeout: 20_000, env: { PIP_CONFIG_FILE: "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1" } });
  const text = `${result.stdout}\n${result.stderr}`.trim().split("\n")[0] ?? "";
  return result.exitCode === 0 && text !== "" ? text : `unavailable (exit ${String(result.exitCode)})`;
}

/** Asks the OS (and the interpreter the bench venvs are made from) and each tool for its version; a missing tool is reported, not fatal. */
export async function machineInfo(python3: string): Promise<MachineInfo> {
  const [python, pip, docker] = await Promise.all([
    firstLine(python3, ["--version"]),
    firstLine(python3, ["-m", "pip", "--version"]),
    firstLine("docker", ["version", "--format", "client {{.Client.Version}}, engine {{.Server.Version}}"]),
  ]);
  const [one, five, fifteen] = loadavg();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: totalmem() / 2 ** 30,
    freeMemoryGiB: freemem() / 2 ** 30,
    loadAverage: [one ?? 0, five ?? 0, fifteen ?? 0],
    kernel: release(),
    node: process.version,
    python: `${python} (${python3})`,
    pip: pip.replace(/ from \S+/, ""),
    docker,
  };
}

/** Machine details as report lines, the same in the console and in RESULTS.md. */
export function formatMachine(info: MachineInfo): string[] {
  return [
    `CPU: ${info.cpuModel}, ${String(info.cores)} cores`,
    `memory: ${info.memoryGiB.toFixed(1)} GiB (${info.freeMemoryGiB.toFixed(1)} GiB free at start)`,
    `load average at start: ${info.loadAverage.map((value) => value.toFixed(2)).join(" ")}`,
    `kernel ${info.kernel}; node ${info.node}; ${info.python}; ${info.pip}; docker ${info.docker}`,
  ];
}
