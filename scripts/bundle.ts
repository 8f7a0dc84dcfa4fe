// `npm run build` (after tsc): the CLI as one bundle, dist/bundle/pipgate.js, which package.json's bin
// points at. Node 20 has no module compile cache, so a CLI of ~400 ES modules spends most of its start-up
// resolving, reading and linking them one by one; one bundle (with a chunk per lazily loaded command, so
// `pipgate install` still loads neither the MCP SDK nor the gateway) is read and compiled in a few files.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { build, type Plugin } from "esbuild";
import { packageRoot } from "../src/paths.js";

/** Where the bundle goes, under the package root (paths.ts finds the root by walking up from it). */
export const BUNDLE_DIR = join("dist", "bundle");
export const BUNDLE_ENTRY = "pipgate.js";

/**
 * Left out of the bundle, loaded from node_modules as before: better-sqlite3 finds its compiled addon
 * relative to its own files; ssh2 (dockerode's ssh:// transport, with its optional cpu-features addon)
 * and pg-native (pg's optional native binding) are optional and loaded only when configured.
 */
export const EXTERNAL = ["better-sqlite3", "ssh2", "cpu-features", "pg-native"];

/**
 * zod's `z` namespace re-exports every locale's messages (~360 KB of the bundle, in 40 languages) and
 * so defeats tree-shaking; pipgate uses zod's default English messages only (z.config is never called),
 * so the bundle's locales module is English alone.
 */
const englishOnlyZod: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

/** Builds the bundle into `outdir` (default dist/bundle of the package); resolves with its entry's path. */
export async function buildBundle(outdir: string = join(packageRoot(), BUNDLE_DIR)): Promise<string> {
  const root = packageRoot();
  // Chunks are named by their content's hash: without this, every build left the previous ones beside it.
  rmSync(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: { pipgate: join(root, "src", "cli", "bin.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: EXTERNAL,
    // Bundled CommonJS dependencies require node's built-ins; an ES module has no `require` of its own.
    banner: { js: 'import { createRequire as __pipgateRequire } from "node:module";\nconst require = __pipgateRequire(import.meta.url);' },
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    chunkNames: "chunks/[name]-[hash]",
    plugins: [englishOnlyZod],
    logLevel: "warning",
  });
  return join(outdir, BUNDLE_ENTRY);
}

if (process.argv[1]?.endsWith("bundle.js") === true) {
  buildBundle().then(
    (entry) => process.stdout.write(`bundled the CLI: ${entry}\n`),
    (error: unknown) => {
      process.stderr.write(`bundle failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
