import path from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The project's own eslint.config.js, with only the layering and cycle rules run and without type
 * information (they read import specifiers and the files they name), so the check takes about a second.
 */
const eslint = new ESLint({
  cwd: repoRoot,
  overrideConfigFile: path.join(repoRoot, "eslint.config.js"),
  overrideConfig: { files: ["**/*.ts"], languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === "no-restricted-imports" || ruleId === "import-x/no-cycle",
});

async function layeringErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  if (result === undefined) throw new Error(`ESLint returned no result for ${file}`);
  return result.messages.map((message) => `${message.ruleId ?? "parse"}: ${message.message}`);
}

describe("the layering rule in eslint.config.js", () => {
  it("refuses a stage that imports the server above it, naming the rule", async () => {
    const errors = await layeringErrors("src/ratelimit/limiter.ts", 'import type { ServerDeps } from "../server/context.js";\nexport type X = ServerDeps;\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^no-restricted-imports: .*layering: ratelimit may not import .*server/);
  });

  it("refuses a later stage, from a nested file, and an export-from", async () => {
    expect(await layeringErrors("src/sandbox/boundary/read.ts", 'export { commit } from "../../commit/commit.js";\n')).toEqual([
      expect.stringMatching(/layering: sandbox may not import .*commit/),
    ]);
  });

  it("refuses the configuration importing a stage (the grants schema lives in config/)", async () => {
    expect(
      await layeringErrors("src/config/schema.ts", 'import { createGrantAccess } from "../grants/access.js";\nexport const x = createGrantAccess;\n'),
    ).toEqual([expect.stringMatching(/layering: config may not import .*grants/)]);
  });

  it("refuses a foundation file in src/ importing a folder", async () => {
    expect(await layeringErrors("src/errors.ts", 'import { createLogger } from "./log.js";\nexport const x = createLogger;\n')).toEqual([
      expect.stringMatching(/layering: errors\.ts may not import .*log\.ts/),
    ]);
  });

  it("lets a stage import what stands before it, and its own folder", async () => {
    const code = [
      'import { errorMessage } from "../errors.js";',
      'import { formatIssues } from "../config/issues.js";',
      'import type { Decision } from "../policy/index.js";',
      'import type { Db } from "../state/db.js";',
      'import { openStore } from "./store.js";',
      "export const x = [errorMessage, formatIssues, openStore];",
      "export type Y = Decision | Db;",
      "",
    ].join("\n");
    expect(await layeringErrors("src/approvals/screen.ts", code)).toEqual([]);
  });

  it("lets the server, the composition root and the CLI import the stages", async () => {
    expect(await layeringErrors("src/server/context.ts", 'import type { PipelineDeps } from "../pipeline/deps.js";\nexport type X = PipelineDeps;\n')).toEqual(
      [],
    );
    expect(await layeringErrors("src/broker.ts", 'import type { PipelineDeps } from "./pipeline/deps.js";\nexport type X = PipelineDeps;\n')).toEqual([]);
    expect(await layeringErrors("src/cli/serve.ts", 'import type { Broker } from "../broker.js";\nexport type X = Broker;\n')).toEqual([]);
  });

  it("puts the gateway above the server and below the composition root", async () => {
    expect(
      await layeringErrors("src/server/context.ts", 'import type { UpstreamSession } from "../gateway/upstream.js";\nexport type X = UpstreamSession;\n'),
    ).toEqual([expect.stringMatching(/layering: server may not import .*gateway/)]);
    expect(await layeringErrors("src/gateway/upstream.ts", 'import type { Broker } from "../broker.js";\nexport type X = Broker;\n')).toEqual([
      expect.stringMatching(/layering: gateway may not import .*broker\.ts/),
    ]);
    expect(
      await layeringErrors(
        "src/gateway/x.ts",
        'import type { ServerDeps } from "../server/context.js";\nimport type { UpstreamConfig } from "../config/upstream-schema.js";\nexport type X = ServerDeps | UpstreamConfig;\n',
      ),
    ).toEqual([]);
    expect(await layeringErrors("src/broker.ts", 'import type { UpstreamSession } from "./gateway/upstream.js";\nexport type X = UpstreamSession;\n')).toEqual(
      [],
    );
  });

  it("refuses an import cycle inside a folder, which the layering alone lets through", async () => {
    // src/audit/chain.ts imports ./canonical-json.js; this version of canonical-json.ts imports it back
    const code = 'import { recordHash } from "./chain.js";\nexport const x = recordHash;\n';
    expect(await layeringErrors("src/audit/canonical-json.ts", code)).toEqual([expect.stringMatching(/^import-x\/no-cycle: Dependency cycle/)]);
  });

  it("refuses the server importing the CLI or the composition root", async () => {
    expect(await layeringErrors("src/server/http.ts", 'import type { Broker } from "../broker.js";\nexport type X = Broker;\n')).toEqual([
      expect.stringMatching(/layering: server may not import .*broker\.ts/),
    ]);
  });
});
