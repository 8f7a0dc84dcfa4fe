// A stand-in broker process for crash tests, run with vite-node: it runs the real commit code and
// then hangs at a chosen point so the test can SIGKILL it there.
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { commitWheels, withEnvironmentLock } from "../../src/commit/index.js";
import { VerifiedWheelSchema } from "../../src/commit/request.js";
import { openStateDb } from "../../src/state/db.js";

const ArgsSchema = z.discriminatedUnion("mode", [
  z.object({
    mode: z.literal("commit"),
    stateDir: z.string(),
    environment: z.string(),
    python: z.string(),
    auditId: z.string(),
    wheels: z.array(VerifiedWheelSchema),
    marker: z.string(),
    installer: z.enum(["pip", "direct"]).default("pip"),
  }),
  z.object({ mode: z.literal("hold-lock"), stateDir: z.string(), environment: z.string(), marker: z.string() }),
]);

const hang = (): Promise<never> =>
  new Promise<never>(() => {
    setInterval(() => undefined, 1000); // keeps the event loop, and so the process, alive
  });

const args = ArgsSchema.parse(JSON.parse(process.argv[2] ?? "{}"));
if (args.mode === "commit") {
  const db = openStateDb(args.stateDir);
  await commitWheels(db, {
    environment: args.environment,
    python: args.python,
    wheels: args.wheels,
    auditId: args.auditId,
    stateDir: args.stateDir,
    installer: args.installer,
    faults: {
      duringPip: async (pid) => {
        writeFileSync(args.marker, JSON.stringify({ pipPid: pid }));
        await hang();
      },
      // The direct installer runs in this process: it is the one that dies between two files.
      duringDirect: async (written) => {
        if (written < 50) return;
        writeFileSync(args.marker, JSON.stringify({ pipPid: process.pid }));
        await hang();
      },
    },
  });
} else {
  await withEnvironmentLock(args.stateDir, args.environment, async () => {
    writeFileSync(args.marker, JSON.stringify({ pid: process.pid }));
    await hang();
  });
}
