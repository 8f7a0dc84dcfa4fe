// Lint rules that catch what reviews miss: unawaited promises, non-exhaustive switches, type-only imports,
// imports that point up the pipeline, and import cycles.
import js from "@eslint/js";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

/**
 * The layering of src/, lowest first: a module may import only what stands in an earlier row (the
 * foundations, then the stages in DESIGN.md's pipeline order, then what runs them). Entries are src/
 * folders, or files directly in src/ (with their .ts). README.md, "Architecture", says the same in prose.
 */
export const LAYERS = [
  ["errors.ts", "log.ts", "paths.ts"], // foundations every module may use …
  ["requirement", "state"],
  ["config"],
  ["index"], // the package index client and its filtering proxy: policy and the sandbox stage use it
  ["validate"], // 1. validate
  ["grants"], // 2. identify
  ["policy-rules"], // 3. admit: the policy file's tool actions and argument conditions (pure; the limiter applies them)
  ["ratelimit"], // 3. rate-limit / admit
  ["policy"], // 4. policy
  ["approvals"], // 5. approve
  ["sandbox"], // 6. sandbox
  ["verify"], // 7. verify
  ["osv"], // the offline OSV database: files and zips read with verify's bounded zip reader, indexed by policy's pure code
  ["commit"], // 8. commit
  ["audit"], // 9. audit
  ["pipeline"], // runs the stages in order
  ["server", "allowlist-edit"], // the MCP server and the allowlist maintenance commands, on top
  ["console"], // the web console for auditors and approvers: a front end over the audit log, the approval queue and the environments
  ["gateway"], // gateway mode: an upstream server's tools behind pipgate's admission (upstream sessions, pins); composes on the server
  ["broker.ts"], // the broker's state: recovery, the reaper, the index, the pipeline's collaborators …
  ["app.ts"], // … and the composition root over it: openPipgate, grants, limits, approvals
  ["cli"], // the entry point; nothing imports it
];

/** The deepest folder nesting under a src/ folder that the rule covers (src/sandbox/boundary/x.ts is 2). */
const MAX_DEPTH = 4;

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** How an import names an entry: a folder ("server/…") or a file in src/ ("broker.js"). */
const target = (entry) => (entry.endsWith(".ts") ? `${escape(entry.slice(0, -3))}\\.js$` : `${escape(entry)}/`);

/** One no-restricted-imports block per entry and file depth: the relative prefix that reaches src/ is exact. */
function layeringBlocks() {
  const blocks = [];
  LAYERS.forEach((row, rank) => {
    const above = LAYERS.slice(rank).flat();
    for (const entry of row) {
      const forbidden = above.filter((other) => other !== entry);
      if (forbidden.length === 0) continue;
      const message =
        `layering: ${entry} may not import ${forbidden.join(", ")}: imports point down the pipeline ` +
        `(LAYERS in eslint.config.js; README.md, "Architecture"). Move the shared code down, or pass it in.`;
      const depths = entry.endsWith(".ts") ? [0] : Array.from({ length: MAX_DEPTH }, (_, i) => i + 1);
      for (const depth of depths) {
        const files = depth === 0 ? [`src/${entry}`] : [`src/${entry}/${"*/".repeat(depth - 1)}*.ts`];
        const up = depth === 0 ? "\\./" : `(?:\\.\\./){${depth}}`;
        const regex = `^${up}(?:${forbidden.map(target).join("|")})`;
        blocks.push({ files, rules: { "no-restricted-imports": ["error", { patterns: [{ regex, message }] }] } });
      }
    }
  });
  return blocks;
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      // a Promise where a value belongs (a condition, a spread, a sync callback) is always truthy: an await is missing
      "@typescript-eslint/no-misused-promises": "error",
      // `return store.x()` inside try/finally would run the finally (closing the store) before the promise settles
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  ...layeringBlocks(),
  // Import cycles fail the lint too: the layering rules out cycles between folders, this catches them
  // within one (and any the layering list would let through).
  {
    files: ["src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      // the specifiers name ./x.js for ./x.ts (NodeNext)
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js"], extensionAlias: { ".js": [".ts", ".js"] } })],
    },
    rules: { "import-x/no-cycle": "error" },
  },
);
