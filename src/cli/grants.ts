import { randomBytes } from "node:crypto";
import { stringify } from "yaml";
import { GRANT_NAME } from "../config/grants-schema.js";
import { hashToken } from "../grants/tokens.js";
import { CliError, EXIT, parseCli, type CommandHelp, type Subcommand } from "./common.js";

const USAGE = "usage: pipgate grants new-token NAME [--environments a,b] | pipgate grants hash-token < TOKEN";

export const grantsHelp: CommandHelp = {
  usage: `${USAGE}\n  bearer tokens for HTTP clients; pipgate.yaml keeps only their sha256 (grants does not read it)\n`,
  actions: {
    "new-token":
      "usage: pipgate grants new-token NAME [--environments a,b]\n  prints a fresh token once (stdout) and the grant entry to paste under `grants:` (stderr)\n",
    "hash-token": "usage: pipgate grants hash-token < TOKEN\n  the sha256 of a token read from standard input, so it never lands in shell history\n",
  },
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `pipgate grants`: tokens for HTTP clients. pipgate.yaml keeps only a token's sha256; `new-token` prints
 * the token once (for the client) and the grant entry to paste (for the operator); `hash-token` hashes a
 * token read from standard input, so it never lands in shell history.
 */
export const grants: Subcommand = async (argv, io) => {
  // --config is accepted like everywhere, and unused: a grant entry is printed for the operator to paste.
  const { values, positionals } = parseCli(argv, { environments: { type: "string" } });
  const [action, ...rest] = positionals;
  if (action === "hash-token") {
    if (rest.length > 0) throw new CliError("hash-token reads the token from standard input, never from the command line");
    if (values.environments !== undefined) throw new CliError("--environments goes with new-token");
    const token = (await readStdin()).replace(/\r?\n$/, "");
    if (token === "") throw new CliError("no token on standard input");
    io.stdout(`${hashToken(token)}\n`);
    return EXIT.ok;
  }
  if (action === "new-token") {
    const [name, ...extra] = rest;
    if (name === undefined || !GRANT_NAME.test(name)) throw new CliError(`${USAGE}\n(grant names are letters, digits, '_', '.' and '-')`);
    if (extra.length > 0) throw new CliError(USAGE);
    const environments: string[] | "*" = values.environments === undefined ? "*" : values.environments.split(",").filter((env) => env !== "");
    const token = `pg_${randomBytes(32).toString("base64url")}`;
    io.stderr("the token, shown once: give it to the client as `Authorization: Bearer <token>`\n");
    io.stdout(`${token}\n`);
    io.stderr("\nadd this under `grants:` in pipgate.yaml:\n");
    io.stderr(stringify({ [name]: { environments, token_sha256: hashToken(token) } }));
    return EXIT.ok;
  }
  throw new CliError(USAGE);
};
