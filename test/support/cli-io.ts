import type { CliIo } from "../../src/cli/common.js";

/** A CliIo that keeps what a command wrote, for tests of subcommands. */
export function capture(): CliIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
    out: () => out,
    err: () => err,
  };
}
