import { existsSync } from "node:fs";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

/**
 * The interpreter bench venvs are made from. Debian's own Python first: the index serves Debian's
 * setuptools wheel, whose patches only work on Debian's Python, and the sandbox image runs Debian's
 * Python too, so baseline and sandbox build the sdist with the same toolchain.
 */
export function baseInterpreter(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/**
 * Fresh venvs, cheaply. `python3 -m venv` spends most of its time in ensurepip (about 14 s on a slow
 * two-core machine), so the bench makes one pristine venv and copies it: a venv finds its prefix from
 * the location of pyvenv.cfg, and everything is run as `python -m pip`, so a copy is as fresh as a new
 * one and nothing of the copying is ever timed.
 */
export interface VenvFactory {
  /** the interpreter the template was made with */
  base: string;
  /** A new venv at `dir`, identical to a just-created one; returns its interpreter. */
  fresh(dir: string): Promise<string>;
}

export async function createVenvFactory(workDir: string, base: string = baseInterpreter()): Promise<VenvFactory> {
  const template = join(workDir, "venv-template");
  await execa(base, ["-m", "venv", template], { env: { PIP_CONFIG_FILE: "/dev/null" }, timeout: 300_000 });
  return {
    base,
    async fresh(dir) {
      await cp(template, dir, { recursive: true, verbatimSymlinks: true });
      return join(dir, "bin", "python");
    },
  };
}
