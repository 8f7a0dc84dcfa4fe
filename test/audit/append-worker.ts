// A separate process appending to a shared on-disk log: argv = state dir, identity, how many records.
import { createAuditLog } from "../../src/audit/index.js";
import { openStateDb } from "../../src/state/db.js";

const [dir, identity, count] = process.argv.slice(2);
if (dir === undefined || identity === undefined || count === undefined) throw new Error("usage: DIR IDENTITY COUNT");
const db = openStateDb(dir);
const log = createAuditLog(db);
for (let i = 0; i < Number(count); i += 1) {
  await log.append({ identity, tool: "install_package", environment: "default", package: `pkg-${i}`, outcome: "installed", arguments: { i } });
}
db.close();
process.stdout.write(`appended ${count}\n`);
