import { request } from "node:http";
import { hostname } from "node:os";
import { errorMessage } from "../errors.js";
import { isProcessAlive, parseProcessTag } from "../state/process.js";

/*
 * Containers outlive the process that started them: a broker killed mid-build leaves its container
 * running, and the timeout that process would have enforced is gone. Every container carries its
 * broker's state directory, the broker process and a deadline in its labels; the reaper kills and
 * removes those of this state directory whose broker is dead or whose deadline has passed. It speaks
 * to the Docker engine's API directly (three calls), so start-up does not load the full client.
 */

export const LABELS = {
  role: "org.pipgate.role",
  request: "org.pipgate.request",
  stateDir: "org.pipgate.state-dir",
  broker: "org.pipgate.broker",
  host: "org.pipgate.host",
  deadline: "org.pipgate.deadline",
} as const;

export interface Reaped {
  id: string;
  request: string;
  why: "broker-gone" | "deadline-passed";
}

interface ListedContainer {
  Id: string;
  Labels?: Record<string, string>;
}

/** Kills and removes this state directory's containers whose broker is gone or whose deadline passed. */
export async function reapContainers(socketPath: string, stateDir: string, now: number = Date.now()): Promise<Reaped[]> {
  const filters = JSON.stringify({ label: [`${LABELS.stateDir}=${stateDir}`] });
  const listed = await engine(socketPath, "GET", `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
  if (listed.status !== 200) throw new Error(`the Docker engine answered ${listed.status} listing containers`);
  const containers = JSON.parse(listed.body) as ListedContainer[];
  const reaped: Reaped[] = [];
  for (const container of containers) {
    const labels = container.Labels ?? {};
    const why = await reason(labels, now);
    if (why === undefined) continue;
    await engine(socketPath, "POST", `/containers/${container.Id}/kill?signal=SIGKILL`).catch(() => undefined);
    const removed = await engine(socketPath, "DELETE", `/containers/${container.Id}?force=1&v=1`);
    if (removed.status !== 204 && removed.status !== 404) throw new Error(`the Docker engine answered ${removed.status} removing ${container.Id}`);
    reaped.push({ id: container.Id, request: labels[LABELS.request] ?? "", why });
  }
  return reaped;
}

async function reason(labels: Record<string, string>, now: number): Promise<Reaped["why"] | undefined> {
  const deadline = Number(labels[LABELS.deadline]);
  if (Number.isFinite(deadline) && now > deadline) return "deadline-passed";
  // Only a broker on this host can be checked; one elsewhere is left to its deadline.
  if ((labels[LABELS.host] ?? hostname()) !== hostname()) return undefined;
  const broker = parseProcessTag(labels[LABELS.broker] ?? "");
  if (broker === undefined || !(await isProcessAlive(broker))) return "broker-gone";
  return undefined;
}

/** One Engine API call over its unix socket; the answer is bounded (a listing of a few containers). */
function engine(socketPath: string, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > 16 * 1024 * 1024) req.destroy(new Error("the Docker engine's answer is too large"));
        else chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`the Docker engine did not answer ${method} ${path}`)));
    req.on("error", (error) => reject(new Error(`cannot reach the Docker engine at ${socketPath}: ${errorMessage(error)}`)));
    req.end();
  });
}
