import { readFile } from "node:fs/promises";
import { hostname } from "node:os";

/** A process as it can be recognised later: its pid, its start time (against pid reuse) and its host. */
export interface ProcessIdentity {
  pid: number;
  start: string | null;
  host: string;
}

/** A process's start time from /proc (field 22 of stat), or null where /proc is not available. */
export async function processStart(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

let self: Promise<ProcessIdentity> | undefined;

/** This process, computed once. */
export function currentProcess(): Promise<ProcessIdentity> {
  self ??= processStart(process.pid).then((start) => ({ pid: process.pid, start, host: hostname() }));
  return self;
}

/** Whether that process still runs. A process on another host is assumed alive: it cannot be checked. */
export async function isProcessAlive(owner: ProcessIdentity): Promise<boolean> {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  if (owner.start === null) return true;
  const start = await processStart(owner.pid);
  return start === null || start === owner.start;
}

/** `pid.start` as it is written into names and labels; `parseProcessTag` reads it back on this host. */
export function processTag(identity: ProcessIdentity): string {
  return `${identity.pid}.${identity.start ?? "x"}`;
}

export function parseProcessTag(tag: string): ProcessIdentity | undefined {
  const match = /^(\d+)\.(\d+|x)$/.exec(tag);
  if (match === null) return undefined;
  return { pid: Number(match[1]), start: match[2] === "x" ? null : match[2]!, host: hostname() };
}
