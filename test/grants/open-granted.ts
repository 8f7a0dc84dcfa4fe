import { openInProcess } from "../support/in-process.js";

/** A clock a test moves by hand, shared by the broker, the limiter and the approval queue. */
export function manualClock(start: Date = new Date()) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

/** The server as `pipgate serve` wires it, for one identity (see openInProcess). */
export function openGranted(configPath: string, options: { identity: string; now?: () => Date }) {
  return openInProcess(configPath, options);
}
