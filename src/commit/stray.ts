import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/*
 * Processes a commit starts that can outlive a SIGKILLed broker and go on writing into the venv: the
 * venv's pip (pip installer) and the byte-compiling interpreters (direct installer). Their pids are
 * written into the backup directory before they are given any work, and start-up recovery kills the
 * ones still alive before it restores, so nothing writes after the restore.
 */

/** The first line of the direct installer's byte-compiling script: how recovery tells it from any other process. */
export const COMPILE_MARK = "# pipgate byte-compile";

export const PIP_PID_FILE = "pip.pid";
export const COMPILE_PID_FILE = "compile.pids";

/** Kills what a dead broker's commit left running, but only processes that are that interpreter's pip or compiler. */
export async function killStrayWriters(backupDir: string, python: string): Promise<void> {
  const pip = await pidsIn(join(backupDir, PIP_PID_FILE));
  const compilers = await pidsIn(join(backupDir, COMPILE_PID_FILE));
  for (const pid of pip) await killIf(pid, (args) => args[0] === python && args.includes("pip") && args.includes("install"));
  for (const pid of compilers) await killIf(pid, (args) => args[0] === python && args.some((arg) => arg.startsWith(COMPILE_MARK)));
}

async function pidsIn(path: string): Promise<number[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split(/\s+/)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0)
    .slice(0, 256);
}

async function killIf(pid: number, matches: (args: string[]) => boolean): Promise<void> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!matches(cmdline.split("\0"))) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  for (let i = 0; i < 500 && (await running(pid)); i += 1) await sleep(10);
}

/** Alive and not a zombie: a zombie writes nothing, and its reaper may be slow. */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}
