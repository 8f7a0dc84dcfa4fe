import { defineConfig } from "vitest/config";

// Integration tests start real containers, venvs and index servers: generous timeouts, few workers
// (these machines have two cores).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
