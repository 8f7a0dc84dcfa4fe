#!/usr/bin/env node
import { EXIT } from "./options.js";
import { main } from "./main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`pipgate: ${String(error)}\n`);
    process.exitCode = EXIT.failure;
  },
);
