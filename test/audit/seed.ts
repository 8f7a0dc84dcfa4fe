import type { AuditInput, AuditLog } from "../../src/audit/index.js";

/** A clock tests can move: records land on the days and hours the test wants. */
export function steppingClock(start: string, stepMs: number): { now: () => Date; set: (iso: string) => void } {
  let current = new Date(start).getTime();
  return {
    now: () => {
      const date = new Date(current);
      current += stepMs;
      return date;
    },
    set: (iso) => {
      current = new Date(iso).getTime();
    },
  };
}

/** A realistic mix of outcomes, including the awkward strings an attacker would send. */
export const SAMPLE_INPUTS: AuditInput[] = [
  {
    identity: "agent-a",
    tool: "install_package",
    environment: "default",
    package: "requests",
    outcome: "installed",
    arguments: { package_name: "requests==2.31.0", environment: "default" },
    request: { requirement: "requests==2.31.0", upgrade: false, timeout: 300 },
    resolved: [
      { name: "requests", version: "2.31.0", sha256: "a".repeat(64), filename: "requests-2.31.0-py3-none-any.whl" },
      { name: "idna", version: "3.6", sha256: "b".repeat(64) },
    ],
    sandbox: { durationMs: 1490, exitCode: 0, timedOut: false, image: "pipgate-sandbox:py3.11" },
    durationMs: 1980,
  },
  {
    identity: "agent-b",
    tool: "install_package",
    environment: "default",
    package: "reqeusts",
    outcome: "denied",
    arguments: { package_name: "reqeusts" },
    reason: "not on the allowlist: reqeusts (did you mean requests?)",
  },
  {
    identity: "agent-a",
    tool: "install_package",
    environment: "data",
    package: "Numpy",
    outcome: "denied",
    arguments: { package_name: "numpy==1.0" },
    reason: 'version 1.0 outside the allowed range ">=1.26,<2", "quoted", with commas\nand a second line',
  },
  {
    identity: "agent-b",
    tool: "install_package",
    environment: "default",
    outcome: "rate-limited",
    arguments: { package_name: "six" },
    package: "six",
    reason: "rate limit: 10 per minute for grant agent-b",
  },
  {
    identity: "agent-a",
    tool: "install_package",
    environment: "data",
    package: "pandas",
    outcome: "timed-out",
    arguments: { package_name: "pandas", timeout: 5 },
    reason: "the sandbox run exceeded 5 s",
    sandbox: { durationMs: 5003, exitCode: null, timedOut: true },
  },
  {
    identity: "agent-c",
    tool: "list_environments",
    outcome: "listed",
    arguments: {},
  },
  {
    identity: "mallory",
    tool: "install_package",
    environment: "default",
    package: "<script>alert(1)</script>",
    outcome: "invalid",
    arguments: { package_name: "<script>alert(1)</script>" },
    reason: 'not a requirement: <script>alert(1)</script> & "friends"',
  },
  {
    identity: "agent-a",
    tool: "install_package",
    environment: "default",
    package: "idna",
    outcome: "already-satisfied",
    arguments: { package_name: "idna" },
  },
];

/** Appends every sample, in order. */
export async function seed(log: AuditLog, inputs: AuditInput[] = SAMPLE_INPUTS): Promise<void> {
  for (const input of inputs) await log.append(input);
}
