import { parse as parseYaml } from "yaml";
import { buildAllowlist } from "../config/allowlist.js";
import { DEFAULT_RULES } from "../config/allowlist-schema.js";
import { formatIssues } from "../config/issues.js";
import { parsePolicy } from "../config/policy-file.js";
import type { POLICY_TOOLS } from "../config/policy-file-schema.js";
import { ConfigSchema, IndexSchema, SandboxSchema } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { REQUESTED_MARK, pinComment, type SourcePin } from "./venv-pins.js";
import { yamlKey, yamlSpecifier } from "./validate.js";

/** What `pipgate init` writes, decided: every path as pipgate.yaml will hold it (relative to its directory, or absolute). */
export interface InitPlan {
  environment: string;
  /** the venv's interpreter as pipgate.yaml names it */
  python: string;
  /** the interpreter the pins were read from (absolute), or undefined when init had no venv */
  venv: string | undefined;
  pins: readonly SourcePin[];
  allowlist: string;
  policy: string;
  indexUrl: string | undefined;
  upstream: { command: string[] } | { url: string } | undefined;
}

/** The three files' texts. */
export interface InitTexts {
  config: string;
  allowlist: string;
  policy: string;
}

/** The seed policy's one limit (policies/seed.json), which init writes as the starting point. */
export const SEED_INSTALL_LIMIT = { counter: "install_package_rate", window: "minute", max: 10, scope: "grant" } as const;

const READ_ONLY_TOOLS: Readonly<Record<Exclude<(typeof POLICY_TOOLS)[number], "install_package">, string>> = {
  check_package: "read-only: the decision for a package, without installing it",
  list_environments: "read-only: the environments an agent may install into",
  list_installed_packages: "read-only: what an environment has",
  list_allowed_packages: "read-only: what its allowlist allows",
  install_status: "read-only: the state of an install waiting for approval",
};

const q = (text: string) => JSON.stringify(text);

/** Lines of `key: value  # comment`, the comments lined up so the file reads as a table. */
function table(rows: ReadonlyArray<readonly [string, string | undefined]>): string {
  const width = Math.min(48, Math.max(...rows.map(([code]) => code.length)));
  return rows.map(([code, comment]) => (comment === undefined ? code : `${code.padEnd(width)}  # ${comment}`)).join("\n");
}

/**
 * pipgate.yaml as `pipgate init` writes it: every key it sets with a comment saying what it does, the
 * values the schema's defaults (so the file shows what is in force), the policy file and the one
 * environment. The upstream, when given, is in gateway mode with the seed policy's "default": "deny".
 */
export function renderConfig(plan: InitPlan): string {
  const index = IndexSchema.parse({});
  const sandbox = SandboxSchema.parse({});
  const rows: Array<readonly [string, string | undefined]> = [
    ["index:", "where packages come from"],
    plan.indexUrl === undefined
      ? ["  # url: https://pypi.example/simple", "a PEP 503 simple index; absent (as now): pip's own default index"]
      : [`  url: ${q(plan.indexUrl)}`, "the PEP 503 simple index every package comes from"],
    [`  timeout_ms: ${index.timeout_ms}`, "how long one request to the index may take"],
    [`  retries: ${index.retries}`, "how often a failed request to the index is tried again"],
    [`  cache_ttl_seconds: ${index.cache_ttl_seconds}`, "how long the index's answers count as fresh before they are revalidated"],
    ["state_dir: .pipgate", "audit log, rate-limit counters, metadata cache, verified wheels (SQLite)"],
    ["identity: local-agent", "who a stdio client is, in the audit log"],
    [`policy: ${q(plan.policy)}`, "which tools agents may call and how often (the seed policy: default deny)"],
    ["sandbox:", "the network-less container every resolve and build runs in"],
    [`  runtime: ${sandbox.runtime}`, "runc, or runsc to run builds under gVisor"],
    [`  memory_mb: ${sandbox.memory_mb}`, "memory limit of a build container"],
    [`  pids: ${sandbox.pids}`, "process limit of a build container"],
    [`  cpus: ${sandbox.cpus}`, "CPU limit of a build container"],
    [`  timeout_max: ${sandbox.timeout_max}`, "the largest timeout (seconds) an install may ask for"],
    ["rules:", "defaults of every allowlist's rules (an allowlist may override each)"],
    [`  min_release_age_days: ${DEFAULT_RULES.min_release_age_days}`, "cooldown: refuse releases younger than this many days (7 is a good start)"],
    [`  allow_vulnerability_fix: ${DEFAULT_RULES.allow_vulnerability_fix}`, "a release that fixes a known vulnerability skips the cooldown"],
    [`  vulnerabilities: ${DEFAULT_RULES.vulnerabilities}`, "deny: refuse versions with a known vulnerability"],
    [`  licenses: []`, "allowed licences (SPDX identifiers); empty: any"],
    [`  unknown_license: ${DEFAULT_RULES.unknown_license}`, "what to do when a release's licence cannot be told"],
    [`  wheels_only: ${DEFAULT_RULES.wheels_only}`, "true refuses anything that needs a build from an sdist"],
    [`  typosquat: ${DEFAULT_RULES.typosquat}`, "refuse names one typo away from an allowed or popular one"],
    ["environments:", "the venvs agents may install into, under the names they use"],
    [`  ${yamlKey(plan.environment)}:`, "the name agents give as install_package's `environment`"],
    [
      `    python: ${q(plan.python)}`,
      plan.venv === undefined
        ? `the venv's interpreter; create it: python3 -m venv ${venvDir(plan.python)}`
        : "the venv's interpreter: pipgate installs into it",
    ],
    [`    allowlist: ${q(plan.allowlist)}`, "what may be installed there"],
    [`    description: ${q(plan.venv === undefined ? "the agent's environment" : `the venv at ${venvDir(plan.venv)}`)}`, "what list_environments shows agents"],
  ];
  if (plan.upstream !== undefined) {
    rows.push(["upstream:", "gateway mode: the MCP server pipgate fronts, behind its policy and audit"]);
    if ("url" in plan.upstream) rows.push([`  url: ${q(plan.upstream.url)}`, "its Streamable HTTP endpoint; one HTTP session per client session"]);
    else {
      rows.push([`  command: [${plan.upstream.command.map(q).join(", ")}]`, "its argv; pipgate starts one process per client session"]);
      rows.push(["  sandbox: false", "true runs it in a container: no network, the environments read-only"]);
    }
  }
  return (
    "# pipgate's configuration, written by `pipgate init`. Relative paths are relative to this file.\n" +
    '# README.md, "Configuration", lists every key. A key pipgate does not know is an error, never\n' +
    "# ignored, so a typo cannot turn a setting off; `pipgate doctor` checks the whole set-up.\n" +
    `${table(rows)}\n`
  );
}

/** The policy file: the seed policy (default deny, ten installs a minute per grant) and pipgate's read-only tools. */
export function renderPolicy(plan: InitPlan): string {
  const limit = SEED_INSTALL_LIMIT;
  const rows: Array<readonly [string, string | undefined]> = [
    ['version: "1"', "the policy format"],
    ["default: deny", "a tool this file does not name is neither listed to agents nor callable"],
    ["tools:", "each tool agents may call, with its limits"],
    ["  install_package:", `the seed policy's limit: ${limit.max} installs a ${limit.window} per grant`],
    ["    limits:", "sliding windows; every one must admit a call"],
    [`      - { counter: ${limit.counter}, window: ${limit.window}, max: ${limit.max}, scope: ${limit.scope} }`, undefined],
    ...Object.entries(READ_ONLY_TOOLS).map(([tool, why]) => [`  ${tool}: {}`, why] as const),
  ];
  const gateway =
    plan.upstream === undefined
      ? ""
      : "  # The upstream's tools pass only when named here (`pipgate upstream show` lists them), e.g.:\n" +
        "  # run_python_code: { action: approval, limits: [{ counter: runs, window: hour, max: 30 }] }\n";
  return (
    "# The policy file pipgate.yaml names, written by `pipgate init` from the seed policy\n" +
    '# (policies/seed.json). README.md, "Grants, rate limits, approvals", explains every key.\n' +
    `${table(rows)}\n${gateway}`
  );
}

/** The allowlist: every distribution of the venv pinned exactly, each with where it came from; or an empty one. */
export function renderAllowlist(plan: InitPlan): string {
  const head =
    plan.venv === undefined
      ? [
          `# The allowlist of the ${q(plan.environment)} environment, written by \`pipgate init\`: empty, so every`,
          "# install is refused until a project is added (`pipgate allowlist add NAME SPEC`).",
        ]
      : [
          `# The allowlist of the ${q(plan.environment)} environment, written by \`pipgate init\` from ${plan.venv}:`,
          `# its ${plan.pins.length} installed distribution(s), each pinned to the installed version.`,
          `# "${REQUESTED_MARK}" in a comment marks what someone asked for (here: what nothing else installed`,
          "# requires); the rest came along as dependencies. `pipgate allowlist lint --unused` warns about",
          "# entries the venv neither has nor needs; `pipgate allowlist sync --from-venv PY` updates the pins.",
        ];
  const rows: Array<readonly [string, string | undefined]> = [];
  const about = 'project name -> PEP 440 specifier set ("*" for any version); anything else is refused';
  if (plan.pins.length === 0) rows.push(["packages: {}", about]);
  else {
    rows.push(["packages:", about]);
    for (const pin of plan.pins) rows.push([`  ${yamlKey(pin.name)}: ${yamlSpecifier(`${pin.operator}${pin.version}`)}`, pinComment(pin)]);
  }
  rows.push(
    ["deny: []", "names refused whatever else says (the deny list wins)"],
    ["rules: {}", "this environment's overrides of pipgate.yaml's rules"],
    ["exemptions: []", "a release excused from one rule, each with a reason and an expiry date"],
    ["vulnerability_ignore: []", "advisories ignored, each with a reason and an expiry date"],
    ["pth_allowed: []", "projects whose wheels may ship .pth files (code that runs at every start-up)"],
  );
  return `${head.join("\n")}\n# Fail closed: a project not listed under \`packages\` is refused.\n${table(rows)}\n`;
}

/** All three files. */
export function renderInit(plan: InitPlan): InitTexts {
  return { config: renderConfig(plan), allowlist: renderAllowlist(plan), policy: renderPolicy(plan) };
}

/**
 * The round trip every generated file must survive before anything is written: each parses as YAML
 * and passes the strict schema the server loads it with, so `init` can never leave a set-up that
 * `serve` refuses for a reason of init's making.
 */
export function checkInit(texts: InitTexts, gateway: boolean): string[] {
  const issues: string[] = [];
  const read = (text: string, what: string): unknown => {
    try {
      return parseYaml(text) ?? {};
    } catch (error) {
      issues.push(`${what}: not valid YAML: ${errorMessage(error)}`);
      return undefined;
    }
  };
  const config = read(texts.config, "pipgate.yaml");
  if (config !== undefined) {
    const parsed = ConfigSchema.safeParse(config);
    if (!parsed.success) issues.push(...formatIssues(parsed.error, "pipgate.yaml: ", ConfigSchema));
  }
  const allowlist = read(texts.allowlist, "allowlist");
  if (allowlist !== undefined) {
    const built = buildAllowlist(allowlist, {}, "allowlist");
    if (!built.ok) issues.push(...built.issues);
  }
  const policy = read(texts.policy, "policy");
  if (policy !== undefined) {
    const parsed = parsePolicy(policy, "policy", { gateway });
    if (!parsed.ok) issues.push(...parsed.issues);
  }
  return issues;
}

function venvDir(python: string): string {
  return python.replace(/\/bin\/python[0-9.]*$/, "") || python;
}
