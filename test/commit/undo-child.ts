// A stand-in broker for the undo journal's crash points, run with vite-node: the real commit code with
// the direct installer, hanging at one point of the journal's life so the test can SIGKILL it there.
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { commitWheels } from "../../src/commit/index.js";
import { VerifiedWheelSchema, type CommitFaults } from "../../src/commit/request.js";
import { openStateDb } from "../../src/state/db.js";

export const UNDO_POINTS = ["after-backup", "during-compile", "during-rollback"] as const;

const ArgsSchema = z.object({
  stateDir: z.string(),
  environment: z.string(),
  python: z.string(),
  auditId: z.string(),
  wheels: z.array(VerifiedWheelSchema),
  marker: z.string(),
  point: z.enum(UNDO_POINTS),
});

const args = ArgsSchema.parse(JSON.parse(process.argv[2] ?? "{}"));
const stop = (seen: Record<string, unknown> = {}): Promise<never> => {
  writeFileSync(args.marker, JSON.stringify({ pid: process.pid, ...seen }));
  return new Promise<never>(() => {
    setInterval(() => undefined, 1000);
  });
};
const faults: CommitFaults =
  args.point === "after-backup"
    ? { afterBackup: () => stop() }
    : args.point === "during-compile"
      ? { duringCompile: (compilerPid) => stop({ compilerPid }) }
      : {
          duringDirect: (written) => {
            if (written === 30) throw new Error("injected at 30 files");
          },
          duringRollback: () => stop(),
        };
const db = openStateDb(args.stateDir);
// The byte-compiling crash point exists where the install compiles: without the store, which compiles once per wheel.
const result = await commitWheels(db, { ...args, installer: "direct", faults, ...(args.point === "during-compile" ? { store: false } : {}) });
writeFileSync(args.marker, JSON.stringify({ finished: result.ok }));
db.close();
