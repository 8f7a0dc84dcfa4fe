import { defineConfig } from "vitest/config";

// Two projects. `unit`: pure logic, in-memory databases, temporary files, at most a local index server on
// 127.0.0.1 or one short python3/sh call; no Docker, no venvs, no pip runs, no Chromium, no spawned CLI or
// broker. Short timeouts, parallel threads, the inner loop (`npm run test:unit`). `integration`: real
// containers, venvs, pip, child brokers and browsers: generous timeouts, at most two forks (these machines
// have two cores). Every test/**/*.test.ts is listed in exactly one project (test/projects.test.ts checks).

export const UNIT_TESTS = [
  "test/store/sqlite-state.test.ts",
  "test/store/broker-id.test.ts",
  "test/validate/fast-path.test.ts",
  "test/allowlist/edit.test.ts",
  "test/allowlist/lint.test.ts",
  "test/allowlist/property.test.ts",
  "test/allowlist/lock-file.test.ts",
  "test/allowlist/sync.test.ts",
  "test/allowlist/lint-unused.test.ts",
  "test/cli/init-files.test.ts",
  "test/approvals/screen.test.ts",
  "test/approvals/approval-runner.test.ts",
  "test/approvals/set-differences.test.ts",
  "test/audit/cli.test.ts",
  "test/audit/counting.test.ts",
  "test/audit/export.test.ts",
  "test/audit/intents.test.ts",
  "test/audit/interrupted.test.ts",
  "test/audit/store.test.ts",
  "test/audit/group-commit.test.ts",
  "test/bench/corpus-wheel.test.ts",
  "test/bench/results-section.test.ts",
  "test/bench/smoke.test.ts",
  "test/commit/conflicts.test.ts",
  "test/commit/pure.test.ts",
  "test/commit/batches.test.ts",
  "test/commit/store.test.ts", // the wheel store with the system python3: no venv, no network
  "test/verify/inspection-memo.test.ts",
  "test/config/unknown-keys.test.ts",
  "test/config/database.test.ts",
  "test/store/sqlite-contract.test.ts",
  "test/console/pages.test.ts",
  "test/config/upstream.test.ts",
  "test/config/upstream-sandbox.test.ts",
  "test/fixtures-selftest/archives.test.ts",
  "test/gateway/audited-arguments.test.ts",
  "test/gateway/bounds.test.ts",
  "test/fixtures-selftest/index-server.test.ts",
  "test/gateway/environment-names.test.ts",
  "test/gateway/pins.test.ts",
  "test/grants/access.test.ts",
  "test/grants/cli.test.ts",
  "test/cli/conventions.test.ts",
  "test/verify/build-requires.test.ts",
  "test/verify/content-signals.test.ts",
  "test/index/client.test.ts",
  "test/index/proxy-build-tools.test.ts",
  "test/index/proxy-metadata.test.ts",
  "test/index/dependency-confusion.test.ts",
  "test/lint/layering.test.ts",
  "test/osv/load.test.ts",
  "test/osv/ranges.test.ts",
  "test/osv/config.test.ts",
  "test/osv/decide.test.ts",
  "test/provenance/rule.test.ts",
  "test/provenance/change-approval.test.ts",
  "test/provenance/verify.test.ts",
  "test/policy/allowlist.test.ts",
  "test/policy/decide.test.ts",
  "test/policy/license.test.ts",
  "test/policy/new-project.test.ts",
  "test/policy/typosquat.test.ts",
  "test/policy/wheel-tags.test.ts",
  "test/pipeline/tree.test.ts",
  "test/policy-rules/call-approvals.test.ts",
  "test/policy-rules/conditions.test.ts",
  "test/projects.test.ts",
  "test/ratelimit/limiter.test.ts",
  "test/ratelimit/slots.test.ts",
  "test/ratelimit/policy-reload.test.ts",
  "test/requirement/corpus.test.ts",
  "test/requirement/marker.test.ts",
  "test/requirement/property.test.ts",
  "test/requirement/tool-registration.test.ts",
  "test/requirement/version.test.ts",
  "test/sandbox/spec.test.ts",
  "test/sandbox/pool-fit.test.ts",
  "test/verify/parsers.test.ts",
  "test/verify/wheel.test.ts",
  "test/verify/zip-reader.test.ts",
];

export const INTEGRATION_TESTS = [
  "test/console/console.test.ts",
  "test/verify/content-install.test.ts", // content signals through a real sandbox, venv and audit log
  "test/osv/serve.test.ts", // a real pipgate serve over stdio with rules.osv, local index, venvs
  "test/provenance/install.test.ts", // rules.provenance through a real sandbox, venv and audit log
  "test/provenance/change-approval-install.test.ts", // real sandbox, local index: a changed publisher queued, approved, repinned
  "test/provenance/publishers-postgres.test.ts", // the publisher store's contract over a throwaway PostgreSQL server
  "test/package/pack.test.ts", // npm pack, npm install from the registry (better-sqlite3 compiles)
  "test/server/structured-refusals.test.ts", // local index server, venvs
  "test/store/postgres-contract.test.ts", // the stores' contract over a throwaway PostgreSQL server
  "test/store/postgres.test.ts", // migrations, a dying appender, the server going away: a throwaway PostgreSQL server
  "test/store/fleet-slots.test.ts", // two limiters' concurrency caps over one throwaway PostgreSQL server
  "test/store/fleet.test.ts", // three pipgate serve processes over one throwaway PostgreSQL server
  "test/store/fleet-approvals.test.ts", // an approval queued on one serve process, approved with another broker's CLI
  "test/bench/corpus-install.test.ts", // builds the requests corpus set, installs it through pipgate
  "test/allowlist/import.test.ts", // pip install, pip freeze
  "test/cli/init.test.ts", // a real venv, pip, doctor (Docker), serve over stdio
  "test/approvals/approvals.test.ts",
  "test/approvals/new-project-approval.test.ts", // real sandbox, local index: a new-project hit queued, approved, installed
  "test/index/confusion-install.test.ts", // real sandbox, two local indexes: confused names refused, bound ones from their index only
  "test/approvals/resolved-set.test.ts", // real sandbox, local index: sets queued, approved, changed
  "test/approvals/shadow.test.ts", // real sandbox, local index: shadow mode per environment and grant
  "test/approvals/elicitation.test.ts", // real sandbox, local index, an SDK client that answers elicitation
  "test/audit/install-paths.test.ts",
  "test/audit/report.test.ts", // headless Chromium
  "test/audit/tamper.test.ts", // concurrent appender processes
  "test/commit/commit.test.ts",
  "test/commit/consistency.test.ts",
  "test/commit/direct.test.ts",
  "test/commit/inspector.test.ts", // a running interpreter answers inspections as a fresh one; hostile workers fall back
  "test/commit/faults.test.ts",
  "test/commit/isolation.test.ts",
  "test/commit/kill-sweep.test.ts",
  "test/commit/lock.test.ts",
  "test/commit/recover.test.ts",
  "test/commit/requested.test.ts",
  "test/commit/store-install.test.ts", // venvs, real pip, one store shared by several installs
  "test/commit/store-background.test.ts", // venvs: a cold wheel installed directly, its entry made after
  "test/commit/undo.test.ts",
  "test/config/serve-cli.test.ts",
  "test/cli/bundle.test.ts", // builds the bundle (esbuild), runs it beside dist/src: help, a bad config, an install, serve over stdio
  "test/doctor/doctor.test.ts",
  "test/e2e/whole-tree.test.ts", // real pip in the sandbox: the tree of a refused install, allowlist add --with-deps
  "test/e2e/build-backends.test.ts",
  "test/e2e/build-diagnostics.test.ts",
  "test/e2e/consistency.test.ts",
  "test/e2e/refusals.test.ts",
  "test/e2e/request-timeout.test.ts",
  "test/e2e/runsc-limits.test.ts",
  "test/e2e/sandbox-hostile.test.ts",
  "test/e2e/sandbox-output.test.ts",
  "test/e2e/sandbox-pool.test.ts",
  "test/e2e/stdio-install.test.ts",
  "test/e2e/transitive.test.ts",
  "test/e2e/warm-cache.test.ts",
  "test/e2e/metadata-names.test.ts",
  "test/fixtures-selftest/dists.test.ts",
  "test/fixtures-selftest/pip-resolve.test.ts",
  "test/fixtures-selftest/sdist-build.test.ts",
  "test/grants/default-environment.test.ts",
  "test/gateway/gateway.test.ts",
  "test/gateway/upstream.test.ts", // upstream MCP server processes, a venv
  "test/gateway/contained.test.ts", // contained upstream containers (runc, runsc), a venv
  "test/gateway/contained-mounts.test.ts", // a venv's interpreter asked where it lives
  "test/gateway/contained-gateway.test.ts", // pipgate serve fronting a contained upstream, a local index
  "test/grants/overlay.test.ts",
  "test/http/http.test.ts",
  "test/http/serve-cli.test.ts",
  "test/http/sessions.test.ts",
  "test/policy/check-cli.test.ts",
  "test/ratelimit/mcp-limits.test.ts",
  "test/reload/allowlist-reload.test.ts",
  "test/sandbox/boundary.test.ts",
  "test/verify/pip-agreement.test.ts",
];

export default defineConfig({
  test: {
    // Vitest 3 reads worker counts and isolation from the root config only; each project picks its pool, so
    // `threads` is the unit project's and `forks` the integration project's. Unit threads are not isolated:
    // one module graph per thread instead of one per file takes a third of the CPU time, and unit files share
    // no module state (no mocks, stubs or fake timers), so nothing leaks between them.
    poolOptions: {
      threads: { maxThreads: 2, minThreads: 1, isolate: false },
      forks: { maxForks: 2, minForks: 1 },
    },
    projects: [
      {
        test: {
          name: "unit",
          include: UNIT_TESTS,
          // Short enough that a hang fails in seconds, long enough for the fast-check properties and the
          // packaging oracle on a busy two-core machine (they take 2-7 s there).
          testTimeout: 15_000,
          hookTimeout: 20_000,
          pool: "threads",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: INTEGRATION_TESTS,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: "forks",
          // After the unit project, so its containers and venvs do not compete with it for the two cores.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
