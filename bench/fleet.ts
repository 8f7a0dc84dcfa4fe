import { canonicalJson } from "../src/audit/canonical-json.js";
import { silentLogger } from "../src/log.js";
import { openPgStores } from "../src/store/postgres/open.js";
import { postgresBinDir, startTestPostgres } from "../test/support/postgres.js";
import { runAgents, type AgentRun } from "./agents.js";
import { ratioText, type FigureLine } from "./report.js";
import { pairedRatios, summarize } from "./stats.js";
import type { VenvFactory } from "./venvs.js";

const BROKERS = 3;
const PASSWORD_ENV = "PIPGATE_BENCH_DB_PASSWORD";

/**
 * P4 as a fleet (issue 17): the eight agents of P4, concurrent, on three brokers that share one
 * PostgreSQL database (a throwaway server, as the tests start), beside P4's one broker on SQLite. What
 * must hold is the same as P4's: no errors, one audit record per call, one chain that verifies.
 */
export async function runFleetAgents(
  dir: string,
  venvs: VenvFactory,
  indexUrl: string,
  reps: number,
  say: (line: string) => void,
): Promise<{ runs: AgentRun[]; errors: string[]; lines: (sqliteConcurrentMs: readonly number[]) => FigureLine[] }> {
  const errors: string[] = [];
  const runs: AgentRun[] = [];
  if (postgresBinDir() === undefined) {
    errors.push("P4 fleet: PostgreSQL is not installed (scripts/setup-host.sh installs it)");
  } else {
    const server = await startTestPostgres();
    process.env[PASSWORD_ENV] = server.password;
    try {
      for (let rep = 0; rep < reps; rep += 1) {
        const database = await server.createDatabase();
        const url = server.url(database);
        const open = async () => {
          const opened = await openPgStores(
            { url, password_env: PASSWORD_ENV, pool_max: 2 },
            { log: silentLogger(), callApprovals: { canonical: canonicalJson } },
          );
          if (!opened.ok) throw new Error(opened.error);
          return opened.value;
        };
        const run = await runAgents("concurrent", `${dir}/${String(rep)}`, venvs, indexUrl, { brokers: BROKERS, url, passwordEnv: PASSWORD_ENV, open });
        runs.push(run);
        for (const error of run.errors) errors.push(`P4 fleet repetition ${String(rep + 1)}: ${error}`);
        if (run.auditRecords !== run.calls)
          errors.push(`P4 fleet repetition ${String(rep + 1)}: ${String(run.calls)} calls but ${String(run.auditRecords)} audit records`);
        if (!run.auditChainOk) errors.push(`P4 fleet repetition ${String(rep + 1)}: the shared audit chain does not verify`);
        say(
          `  rep ${String(rep + 1)}: ${run.wallMs.toFixed(0)} ms on ${String(BROKERS)} brokers; ${String(run.errors.length)} errors; audit ${String(run.auditRecords)}/${String(run.calls)}`,
        );
      }
    } finally {
      delete process.env[PASSWORD_ENV];
      await server.close();
    }
  }
  return {
    runs,
    errors,
    lines: (sqliteConcurrentMs) => {
      const calls = runs.reduce((sum, r) => sum + r.calls, 0);
      const audited = runs.reduce((sum, r) => sum + r.auditRecords, 0);
      const ratio = summarize(
        pairedRatios(
          runs.map((r) => r.wallMs),
          sqliteConcurrentMs,
        ),
      );
      return [
        {
          name: `P4 fleet audit records vs calls (${String(BROKERS)} brokers, PostgreSQL)`,
          value: `${String(audited)} / ${String(calls)}`,
          target: "equal",
          pass: calls > 0 && audited === calls && runs.every((r) => r.auditChainOk),
        },
        { name: `P4 fleet wall time, ${String(BROKERS)} brokers on PostgreSQL / 1 on SQLite`, value: ratioText(ratio), target: "(info)", pass: undefined },
      ];
    },
  };
}
