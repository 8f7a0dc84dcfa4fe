import { z } from "zod";
import { lastLine } from "./interpreter.js";

const CompiledSchema = z.array(z.tuple([z.string(), z.string()]));

/** What one byte-compiling interpreter run ended with, as execa reports it (reject: false). */
export interface CompileRun {
  failed: boolean;
  stdout: unknown;
  stderr: unknown;
  shortMessage?: string | undefined;
}

/**
 * The [source, pyc] pairs a byte-compiling run printed as JSON, for the direct installer and the store
 * alike; a failed run, or an answer of any other shape, is an error naming the interpreter.
 */
export function compiledPairs(python: string, run: CompileRun): Array<[string, string]> {
  if (run.failed) throw new Error(`byte-compiling with ${python} failed: ${lastLine(String(run.stderr)) || (run.shortMessage ?? "")}`);
  let raw: unknown;
  try {
    raw = JSON.parse(String(run.stdout));
  } catch {
    raw = undefined;
  }
  const parsed = CompiledSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`unexpected answer from ${python} while byte-compiling`);
  return parsed.data;
}
