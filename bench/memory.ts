import { readFileSync } from "node:fs";
import type { Result } from "../src/errors.js";

/** A process's resident memory as the kernel counts it: now (VmRSS) and its high-water mark (VmHWM). */
export interface ProcessMemory {
  rssBytes: number;
  hwmBytes: number;
}

/** Pure: the two fields out of /proc/PID/status text, which reports them in kB. */
export function parseProcStatus(text: string): Result<ProcessMemory> {
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, "m").exec(text);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  };
  const rssBytes = field("VmRSS");
  const hwmBytes = field("VmHWM");
  if (rssBytes === undefined || hwmBytes === undefined) return { ok: false, error: "no VmRSS/VmHWM lines in /proc/PID/status" };
  return { ok: true, value: { rssBytes, hwmBytes } };
}

/** Reads a live process's memory; a process that has exited is an error value, not a throw. */
export function readProcessMemory(pid: number): Result<ProcessMemory> {
  try {
    return parseProcStatus(readFileSync(`/proc/${String(pid)}/status`, "utf8"));
  } catch (error) {
    return { ok: false, error: `cannot read /proc/${String(pid)}/status: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * Samples VmRSS of some processes every `intervalMs` until stopped, keeping each one's peak: VmHWM
 * alone would be enough for the peak, the samples show whether it was a spike or a plateau.
 */
export function sampleMemory(pids: readonly number[], intervalMs = 100): { stop(): Map<number, number> } {
  const peaks = new Map<number, number>();
  const tick = () => {
    for (const pid of pids) {
      const memory = readProcessMemory(pid);
      if (memory.ok) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, memory.value.rssBytes));
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return peaks;
    },
  };
}
