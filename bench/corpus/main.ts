// `node dist/bench/corpus/main.js [SET,...]`: builds (or finds cached) and verifies the bench corpus.
import { selectCorpus } from "./corpus.js";
import { loadCorpus } from "./build-corpus.js";

async function main(): Promise<number> {
  const selected = selectCorpus(process.argv[2] ?? process.env["BENCH_CORPUS"]);
  if (!selected.ok) {
    process.stderr.write(`${selected.error}\n`);
    return 2;
  }
  const corpus = await loadCorpus(selected.value, { log: (line) => process.stdout.write(`${line}\n`) });
  if (!corpus.ok) {
    process.stderr.write(`corpus: ${corpus.error}\n`);
    return 1;
  }
  process.stdout.write(`${corpus.value.built ? "built" : "cached"}: ${String(corpus.value.wheels.length)} wheels in ${corpus.value.dir}\n`);
  for (const wheel of corpus.value.wheels)
    process.stdout.write(
      `  ${wheel.filename}  ${(wheel.bytes.length / 2 ** 20).toFixed(1)} MB  requires ${wheel.meta?.dependencies.filter((d) => !d.includes("extra")).join("; ") ?? ""}\n`,
    );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`corpus failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
