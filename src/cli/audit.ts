import { createWriteStream } from "node:fs";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFile } from "node:fs/promises";
import { createAuditLog, type AuditLog } from "../audit/store.js";
import { writeCsv, writeJsonl } from "../audit/export.js";
import { formatLine, formatRecordJson, formatTable, terminalSafe } from "../audit/format.js";
import { parseTimeArgument } from "../audit/query.js";
import { renderHtmlReport } from "../audit/report.js";
import { INTENT, OUTCOMES, RecordOutcomeSchema, type AuditFilter, type RecordOutcome } from "../audit/types.js";
import { errorMessage } from "../errors.js";
import { openStateDb, type Db } from "../state/db.js";
import { CliError, EXIT, parseCli, requireConfig, type CliIo, type CommandHelp, type Subcommand } from "./common.js";

const USAGE = `usage: pipgate audit <command> [--config FILE] [options]

commands:
  list    [filters] [--json]            records, oldest first (--limit N: the N most recent)
  show    ID                            one record in full (an id prefix is enough)
  export  --format jsonl|csv [--out FILE] [filters]
  verify  [--head HASH]                 check the hash chain; exit 1 names the first bad record;
                                        --head: a head printed by an earlier verify must still be in it
  tail    [-f] [--interval MS] [filters]  the last 10 records, then (-f) new ones as they arrive
  report  --html FILE [--title T] [filters]

filters:
  --since T --until T   ISO date/time (2024-05-01, 2024-05-01T12:00Z) or back from now (30m, 24h, 7d);
                        since is inclusive, until exclusive
  --identity I  --env E  --package P  --tool T  --outcome O[,O...]  --limit N
  --intents             also intent records (list, tail): a request that started work writes one
                        first, its outcome follows; export always includes them, report counts outcomes
outcomes: ${OUTCOMES.join(", ")}; and ${INTENT} (--outcome ${INTENT}: only intents)
`;

const FILTERS_USAGE = "filters: --since T --until T --identity I --env E --package P --tool T --outcome O[,O...] --limit N --intents";

export const auditHelp: CommandHelp = {
  usage: USAGE,
  actions: {
    list: `usage: pipgate audit list [filters] [--json] [--config FILE]\n  records, oldest first (--limit N: the N most recent)\n  ${FILTERS_USAGE}\n`,
    show: "usage: pipgate audit show ID [--config FILE]\n  one record in full (an id prefix is enough)\n",
    export: `usage: pipgate audit export --format jsonl|csv [--out FILE] [filters] [--config FILE]\n  every record, intents included, so an imported log verifies as the same chain\n  ${FILTERS_USAGE}\n`,
    verify:
      "usage: pipgate audit verify [--head HASH] [--config FILE]\n  check the hash chain; exit 1 names the first bad record; --head: an earlier head must still be in it\n",
    tail: `usage: pipgate audit tail [-f] [--interval MS] [filters] [--config FILE]\n  the last 10 records, then (-f) new ones as they arrive\n  ${FILTERS_USAGE}\n`,
    report: `usage: pipgate audit report --html FILE [--title T] [filters] [--config FILE]\n  a self-contained HTML report of the records and the chain's state\n  ${FILTERS_USAGE}\n`,
  },
};

const FILTER_OPTIONS = {
  since: { type: "string" },
  until: { type: "string" },
  identity: { type: "string" },
  env: { type: "string" },
  package: { type: "string" },
  tool: { type: "string" },
  outcome: { type: "string" },
  limit: { type: "string" },
  intents: { type: "boolean", default: false },
} as const;

/** What the command runs against; tests pass a database (and a clock, and a stop signal for `tail -f`). */
export interface AuditCommandDeps {
  db?: Db;
  now?: () => Date;
  signal?: AbortSignal;
}

/** `pipgate audit …`: the auditors' view of the log. */
export const audit: Subcommand = (argv, io) => runAudit(argv, io);

/**
 * The command with its collaborators injectable, so tests need no configuration file. Without `deps.db`
 * the state database named by `--config` is opened, and closed again at the end.
 */
export async function runAudit(argv: string[], io: CliIo, deps: AuditCommandDeps = {}): Promise<number> {
  const [command, ...rest] = argv;
  const now = deps.now ?? (() => new Date());
  const open = (config: string | undefined) => {
    const db = deps.db ?? openStateDb(requireConfig(config ?? "pipgate.yaml").state_dir);
    const close = () => {
      if (deps.db === undefined) db.close();
    };
    return { log: createAuditLog(db, { now }), close };
  };
  const withLog = async (config: string | undefined, run: (log: AuditLog) => Promise<number> | number) => {
    const { log, close } = open(config);
    try {
      return await run(log);
    } finally {
      close();
    }
  };

  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      (command === undefined ? io.stderr : io.stdout)(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    case "list": {
      const { values } = parseCli(rest, { ...FILTER_OPTIONS, json: { type: "boolean", default: false } }, false);
      const filter = parseFilter(values, now());
      return withLog(values.config, async (log) => {
        const records = filter.limit === undefined ? await log.list(filter) : (await log.list({ ...filter, order: "desc" })).reverse();
        if (values.json) io.stdout(`${JSON.stringify(records, null, 2)}\n`);
        else if (records.length === 0) io.stderr("no matching records\n");
        else io.stdout(formatTable(records));
        return EXIT.ok;
      });
    }
    case "show": {
      const { values, positionals } = parseCli(rest, {});
      const [id, ...extra] = positionals;
      if (id === undefined || extra.length > 0) throw new CliError("usage: pipgate audit show ID");
      return withLog(values.config, async (log) => {
        const found = await log.lookup(id);
        if (found.ok) {
          io.stdout(`${formatRecordJson(found.record)}\n`);
          if (found.record.outcome === INTENT) io.stderr(`${await intentNote(log, found.record.request)}\n`);
          return EXIT.ok;
        }
        if (found.reason === "ambiguous") {
          io.stderr(`${terminalSafe(id)} matches several records: ${found.matches.join(", ")}; give more of the id\n`);
        } else {
          io.stderr(`no audit record ${terminalSafe(id)}\n`);
        }
        return EXIT.failure;
      });
    }
    case "export": {
      const { values } = parseCli(rest, { ...FILTER_OPTIONS, format: { type: "string", default: "jsonl" }, out: { type: "string" } }, false);
      const format = values.format;
      if (format !== "jsonl" && format !== "csv") throw new CliError(`--format must be jsonl or csv, not ${format}`);
      // The lossless export: intents too, so an imported log verifies as the same chain.
      const filter = { ...parseFilter(values, now()), intents: true };
      return withLog(values.config, async (log) => {
        const out = values.out === undefined ? ioWritable(io) : createWriteStream(values.out);
        const writer = format === "csv" ? writeCsv : writeJsonl;
        let count: number;
        try {
          count = await writer(log.iterate(filter), out);
          out.end();
          await finished(out);
        } catch (error) {
          out.destroy();
          throw new CliError(`cannot write ${values.out ?? "the export"}: ${errorMessage(error)}`, EXIT.failure);
        }
        if (values.out !== undefined) io.stderr(`exported ${count} records to ${values.out}\n`);
        return EXIT.ok;
      });
    }
    case "verify": {
      const { values } = parseCli(rest, { head: { type: "string" } }, false);
      return withLog(values.config, async (log) => {
        const result = await log.verify();
        if (result.ok) {
          io.stdout(`chain intact: ${result.count} records, head ${result.head}\n`);
          const open = await log.openIntents();
          if (open.length > 0) {
            io.stdout(
              `${open.length} request(s) started and have no outcome yet: in flight, or left by a broker that ended ` +
                `(its next start closes them as interrupted): ${open.map((r) => r.id).join(", ")}\n`,
            );
          }
          // The chain alone cannot show that its newest records were cut off; a head noted earlier can.
          if (values.head === undefined) return EXIT.ok;
          const seq = await log.seqOfHash(values.head);
          if (seq !== undefined) {
            io.stdout(`earlier head ${values.head} is record seq ${seq}: nothing before it was cut off\n`);
            return EXIT.ok;
          }
          io.stdout(`earlier head ${terminalSafe(values.head)} is NOT in the log: records were removed from its end, or the log was replaced\n`);
          return EXIT.failure;
        }
        const bad = result.firstBad;
        io.stdout(
          `chain BROKEN at seq ${bad.seq}, record ${terminalSafe(bad.id)}: ${bad.problem}\n  ${terminalSafe(bad.detail)}\n` +
            `  (${result.count} records in the log)\n`,
        );
        return EXIT.failure;
      });
    }
    case "tail": {
      const { values } = parseCli(
        rest,
        {
          ...FILTER_OPTIONS,
          follow: { type: "boolean", short: "f", default: false },
          interval: { type: "string", default: "1000" },
        },
        false,
      );
      const filter = parseFilter(values, now());
      const interval = positiveInteger("--interval", values.interval);
      return withLog(values.config, (log) => tail(log, io, { filter, follow: values.follow, intervalMs: interval, signal: deps.signal }));
    }
    case "report": {
      const { values } = parseCli(rest, { ...FILTER_OPTIONS, html: { type: "string" }, title: { type: "string" } }, false);
      if (values.html === undefined) throw new CliError("usage: pipgate audit report --html FILE [filters]");
      const filter = parseFilter(values, now());
      const file = values.html;
      return withLog(values.config, async (log) => {
        const records = await log.list(filter);
        const chain = await log.verify();
        const html = renderHtmlReport(records, {
          generatedAt: now(),
          chain,
          title: values.title,
          scope: describeFilter(values),
          // --since given: the time chart covers the range asked for, empty minutes and days included
          ...(filter.since === undefined ? {} : { range: { from: new Date(filter.since), to: filter.until === undefined ? now() : new Date(filter.until) } }),
        });
        await writeFile(file, html, "utf8");
        const status = chain.ok ? "chain intact" : `chain BROKEN at ${chain.firstBad.id} (${chain.firstBad.problem})`;
        const outcomes = records.filter((record) => record.outcome !== INTENT).length;
        io.stderr(`report written to ${file}: ${outcomes} records, ${status}\n`);
        return EXIT.ok;
      });
    }
    default:
      throw new CliError(`unknown audit command: ${command}\n${USAGE}`);
  }
}

interface FilterValues {
  since?: string;
  until?: string;
  identity?: string;
  env?: string;
  package?: string;
  tool?: string;
  outcome?: string;
  limit?: string;
  intents?: boolean;
}

/** The command-line filter options as a store filter; a bad time, outcome or limit is a usage error. */
export function parseFilter(values: FilterValues, now: Date): AuditFilter {
  const filter: AuditFilter = {};
  for (const bound of ["since", "until"] as const) {
    const text = values[bound];
    if (text === undefined) continue;
    const time = parseTimeArgument(text, now);
    if (!time.ok) throw new CliError(`--${bound}: ${time.error}`);
    filter[bound] = time.value;
  }
  if (values.identity !== undefined) filter.identity = values.identity;
  if (values.env !== undefined) filter.environment = values.env;
  if (values.package !== undefined) filter.package = values.package;
  if (values.tool !== undefined) filter.tool = values.tool;
  if (values.outcome !== undefined) {
    const outcomes: RecordOutcome[] = [];
    for (const name of values.outcome
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")) {
      const parsed = RecordOutcomeSchema.safeParse(name);
      if (!parsed.success) throw new CliError(`--outcome: unknown outcome ${name}; one of ${OUTCOMES.join(", ")}, ${INTENT}`);
      outcomes.push(parsed.data);
    }
    filter.outcome = outcomes;
  }
  if (values.limit !== undefined) filter.limit = positiveInteger("--limit", values.limit);
  if (values.intents === true) filter.intents = true;
  return filter;
}

/** What became of an intent's request: its outcome record, or that it has none yet. */
async function intentNote(log: AuditLog, request: unknown): Promise<string> {
  const requestId = typeof request === "object" && request !== null ? (request as { requestId?: unknown }).requestId : undefined;
  if (typeof requestId !== "string") return "an intent that names no request id";
  const outcome = await log.outcomeOf(requestId);
  return outcome === undefined
    ? `an intent: request ${terminalSafe(requestId)} has no outcome yet (in flight, or its broker ended: the next start closes it as interrupted)`
    : `an intent: request ${terminalSafe(requestId)} ended in record ${outcome.id} (${outcome.outcome})`;
}

function positiveInteger(option: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliError(`${option} must be a positive integer, not ${text}`);
  return Number(text);
}

function describeFilter(values: FilterValues): string {
  const parts = Object.entries(values)
    .filter(([key, value]) => key in FILTER_OPTIONS && typeof value === "string")
    .map(([key, value]) => `--${key} ${String(value)}`);
  return parts.length === 0 ? "all records" : parts.join(" ");
}

/** A Writable over the io's stdout, so exports stream through the same channel tests capture. */
function ioWritable(io: CliIo): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      io.stdout(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      callback();
    },
  });
}

/**
 * The last records (10 unless --limit), then with `follow` every new matching record until SIGINT, SIGTERM
 * or the test's signal. The head seq is read before each poll, so a record appended during a poll is seen
 * by the next one rather than skipped.
 */
async function tail(
  log: AuditLog,
  io: CliIo,
  opts: { filter: AuditFilter; follow: boolean; intervalMs: number; signal: AbortSignal | undefined },
): Promise<number> {
  const { limit = 10, ...filter } = opts.filter;
  const headSeq = async () => (await log.list({ order: "desc", limit: 1, intents: true }))[0]?.seq ?? 0;
  let last = await headSeq();
  for (const record of (await log.list({ ...filter, order: "desc", limit })).reverse()) io.stdout(formatLine(record));
  if (!opts.follow) return EXIT.ok;

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const onExternal = () => stop.abort();
  opts.signal?.addEventListener("abort", onExternal, { once: true });
  if (opts.signal?.aborted === true) stop.abort();
  try {
    while (!stop.signal.aborted) {
      try {
        await sleep(opts.intervalMs, undefined, { signal: stop.signal });
      } catch {
        break; // aborted: a clean stop
      }
      const head = await headSeq();
      if (head <= last) continue;
      for (const record of await log.after(last, filter)) if (record.seq <= head) io.stdout(formatLine(record));
      last = head;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    opts.signal?.removeEventListener("abort", onExternal);
  }
  return EXIT.ok;
}
