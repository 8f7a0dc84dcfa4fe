import { userInfo } from "node:os";
import { openPipgate } from "../app.js";
import { acceptDefinition, configuredUpstreamKey, pinnedUpstreams, pinStatus, type PinStatus } from "../gateway/pins.js";
import { definitionDiff, printable } from "../gateway/definition-diff.js";
import type { Db } from "../state/db.js";
import { cliLogger, CliError, EXIT, parseCli, requireConfig, type CliIo, type CommandHelp, type Subcommand } from "./common.js";

const USAGE =
  "usage: pipgate upstream show [--json] [--upstream KEY]\n" +
  "       pipgate upstream accept NAME [--sha256 HEX] [--upstream KEY] [--as NAME]\n" +
  "       pipgate upstream accept --all [--upstream KEY] [--as NAME]";

export const upstreamHelp: CommandHelp = {
  usage: `${USAGE}\n  the gateway upstream's pinned tool definitions; a changed one stays hidden until accepted\n`,
  actions: {
    show: "usage: pipgate upstream show [--json] [--upstream KEY]\n  every pinned tool, and what changed in those that did\n",
    accept:
      "usage: pipgate upstream accept NAME [--sha256 HEX] [--upstream KEY] [--as NAME]\n       pipgate upstream accept --all [--upstream KEY] [--as NAME]\n  make a changed definition the pin (--sha256: only if it is still that one)\n",
  },
};

/** The upstream the command is about: the configured one, else --upstream, else the only one on record. */
function chooseUpstream(db: Db, config: object, given: string | undefined): string {
  if (given !== undefined) return given;
  const configured = configuredUpstreamKey(config);
  if (configured !== undefined) return configured;
  const known = pinnedUpstreams(db);
  if (known.length === 1 && known[0] !== undefined) return known[0].key;
  if (known.length === 0)
    throw new CliError("no upstream tool definitions are on record yet: they are pinned when pipgate serve first lists the upstream's tools", EXIT.failure);
  throw new CliError(
    `several upstreams are on record; pass --upstream KEY, one of:\n  ${known.map((entry) => `${entry.key}  ${entry.tools} tools, last seen ${entry.lastSeen.toISOString()}`).join("\n  ")}`,
  );
}

function describe(pin: PinStatus): string[] {
  const head = `${printable(pin.name).padEnd(28)} ${pin.state === "pinned" ? "pinned " : "CHANGED"}  ${pin.acceptedSha256.slice(0, 12)}${pin.state === "changed" ? ` -> ${pin.currentSha256.slice(0, 12)} (hidden until accepted)` : ""}  first seen ${pin.firstSeen.toISOString()}, last ${pin.lastSeen.toISOString()}`;
  return pin.state === "changed" ? [head, ...definitionDiff(pin.accepted, pin.current)] : [head];
}

/**
 * `pipgate upstream show|accept`: the operator's side of tool-definition pinning (gateway/pins.ts). It
 * reads the state database only — the server records what the upstream listed — so the upstream need
 * not be running. Both are audited; accept names who accepted what (`--as NAME`, else $USER).
 */
export const upstream: Subcommand = async (argv, io: CliIo, context) => {
  const { values, positionals } = parseCli(argv, {
    json: { type: "boolean", default: false },
    all: { type: "boolean", default: false },
    upstream: { type: "string" },
    sha256: { type: "string" },
    as: { type: "string" },
  });
  const [action, name, ...extra] = positionals;
  if (action === undefined || extra.length > 0) throw new CliError(USAGE);
  const config = requireConfig(values.config);
  const opened = await openPipgate(config, cliLogger(context, "warn"));
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const { broker } = opened.value;
  try {
    const key = chooseUpstream(broker.db, config, values.upstream);
    const by = values.as ?? (process.env.USER || userInfo().username);
    switch (action) {
      case "show": {
        if (name !== undefined || values.all || values.sha256 !== undefined) throw new CliError(USAGE);
        const pins = pinStatus(broker.db, key);
        const changed = pins.filter((pin) => pin.state === "changed").map((pin) => pin.name);
        await broker.pipeline.audit.append({
          identity: by || "pipgate",
          tool: "upstream show",
          outcome: "listed",
          arguments: { upstream: key },
          reason: `${pins.length} upstream tool(s) on record, ${changed.length} changed`,
        });
        if (values.json) {
          const rows = pins.map((pin) => ({
            ...pin,
            firstSeen: pin.firstSeen.toISOString(),
            lastSeen: pin.lastSeen.toISOString(),
            acceptedAt: pin.acceptedAt.toISOString(),
          }));
          io.stdout(`${JSON.stringify({ upstream: key, tools: rows }, null, 2)}\n`);
        } else {
          const lines = [`upstream ${key}`, ...pins.flatMap(describe)];
          if (changed.length > 0) lines.push("", `${changed.length} changed: review, then pipgate upstream accept NAME (or --all)`);
          io.stdout(`${lines.join("\n")}\n`);
        }
        return EXIT.ok;
      }
      case "accept": {
        if ((name === undefined) === !values.all) throw new CliError(`accept takes one NAME, or --all\n${USAGE}`);
        if (values.all && values.sha256 !== undefined) throw new CliError("--sha256 goes with one NAME, not --all");
        if (values.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(values.sha256))
          throw new CliError("--sha256 is 64 lower-case hex digits (pipgate upstream show --json prints currentSha256)");
        if (by === "") throw new CliError("who is accepting? pass --as NAME (or set $USER)");
        const names = values.all
          ? pinStatus(broker.db, key)
              .filter((pin) => pin.state === "changed")
              .map((pin) => pin.name)
          : [name ?? ""];
        if (names.length === 0) {
          io.stdout("nothing to accept: no tool's definition changed\n");
          return EXIT.ok;
        }
        let failed = 0;
        for (const tool of names) {
          const accepted = acceptDefinition(broker.db, key, tool, values.sha256, new Date());
          if (!accepted.ok) {
            failed += 1;
            io.stderr(`${printable(accepted.error)}\n`);
            continue;
          }
          await broker.pipeline.audit.append({
            identity: by,
            tool: "upstream accept",
            outcome: "approved",
            arguments: { upstream: key, name: tool, ...(values.sha256 === undefined ? {} : { sha256: values.sha256 }) },
            reason: `${by} accepted the changed definition of upstream tool ${tool}: ${accepted.was.slice(0, 12)} -> ${accepted.now.slice(0, 12)}`,
            approval: { kind: "tool-definition", upstream: key, name: tool, was: accepted.was, now: accepted.now, decided_by: by },
          });
          io.stdout(`accepted ${printable(tool)}: ${accepted.now.slice(0, 12)} is its pin now (was ${accepted.was.slice(0, 12)})\n`);
        }
        return failed === 0 ? EXIT.ok : EXIT.failure;
      }
      default:
        throw new CliError(`unknown action ${JSON.stringify(action)}\n${USAGE}`);
    }
  } finally {
    broker.close();
  }
};
