import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

/** The containers (running or not) of the broker with this state directory; others' are not looked at. */
export async function containersOf(stateDir: string): Promise<string[]> {
  const { stdout } = await execa("docker", ["ps", "-a", "--filter", `label=org.pipgate.state-dir=${stateDir}`, "--format", "{{.ID}}"]);
  return stdout.split("\n").filter((line) => line !== "");
}

/** Waits until this state directory has a container (a build is running), up to `ms`. */
export async function waitForContainer(stateDir: string, ms = 120_000): Promise<string> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const [id] = await containersOf(stateDir);
    if (id !== undefined) return id;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no sandbox container appeared for ${stateDir} within ${ms} ms`);
}

/** The OCI runtimes the engine has registered. */
export async function engineRuntimes(): Promise<string[]> {
  const result = await execa("docker", ["info", "--format", "{{json .Runtimes}}"], { reject: false });
  if (result.exitCode !== 0) return [];
  return Object.keys(JSON.parse(result.stdout) as Record<string, unknown>);
}

/** Scratch directories a broker process left: its upload directories and its proxy socket directories. */
export function scratchOf(stateDir: string, pid: number): string[] {
  const work = readdirSafe(join(stateDir, "work")).map((name) => join(stateDir, "work", name));
  const sockets = readdirSafe(tmpdir())
    .filter((name) => name.startsWith(`pipgate-sock-${pid}.`))
    .map((name) => join(tmpdir(), name));
  return [...work, ...sockets];
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
