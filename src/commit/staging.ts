import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { createOwnedDir } from "../state/leftovers.js";
import { basename, join } from "node:path";
import { eq as sameVersion } from "@renovatebot/pep440";
import { errorMessage, type Result } from "../errors.js";
import { requirementsText, type StagedWheel } from "./pip-command.js";
import { normalizeName } from "../requirement/name.js";
import type { VerifiedWheel } from "./request.js";

/** Prefix of staging directories under stateDir/staging. */
export const STAGING_PREFIX = "stage";

/** A private directory holding exactly the verified wheels and the hash-pinned requirements file. */
export interface Staging {
  dir: string;
  findLinks: string;
  requirements: string;
  wheels: StagedWheel[];
}

// {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl (PEP 427)
const WHEEL_FILENAME = /^([^-]+)-([^-]+)(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$/;

/** Checks that a wheel's filename names the distribution and version it was verified as. */
export function checkWheelFilename(wheel: Pick<VerifiedWheel, "name" | "version" | "path">): Result<string> {
  const file = basename(wheel.path);
  const match = WHEEL_FILENAME.exec(file);
  if (match?.[1] === undefined || match[2] === undefined) return { ok: false, error: `${file} is not a wheel filename` };
  if (normalizeName(match[1]) !== normalizeName(wheel.name) || !sameVersion(match[2], wheel.version)) {
    return { ok: false, error: `${file} does not hold ${wheel.name}==${wheel.version}` };
  }
  return { ok: true, value: file };
}

/** Streams the file, so a large wheel is never held in memory to be hashed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Copies every wheel into a fresh 0700 directory and hashes the copy, which is the file pip will read:
 * a wheel changed after verification, or while being copied, is refused before the venv is touched.
 */
export async function stageWheels(parent: string, wheels: readonly VerifiedWheel[]): Promise<Result<Staging>> {
  const seen = new Set<string>();
  for (const wheel of wheels) {
    const key = normalizeName(wheel.name);
    if (seen.has(key)) return { ok: false, error: `${wheel.name} is listed twice` };
    seen.add(key);
  }
  await mkdir(parent, { recursive: true, mode: 0o700 });
  // Named for this process, so start-up removes a dead broker's staging and never a live one's.
  const dir = await createOwnedDir(parent, STAGING_PREFIX);
  try {
    const findLinks = join(dir, "wheels");
    await mkdir(findLinks, { mode: 0o700 });
    const staged: StagedWheel[] = [];
    for (const wheel of wheels) {
      const file = checkWheelFilename(wheel);
      if (!file.ok) throw new Error(file.error);
      const copy = join(findLinks, file.value);
      await copyFile(wheel.path, copy, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      const digest = await sha256File(copy);
      if (digest !== wheel.sha256) {
        throw new Error(`${file.value}: sha256 is ${digest}, but ${wheel.sha256} was verified; refusing to install`);
      }
      staged.push({
        name: wheel.name,
        version: wheel.version,
        file: copy,
        sha256: digest,
        ...(wheel.entryPoints === undefined ? {} : { entryPoints: wheel.entryPoints }),
      });
    }
    const requirements = join(dir, "requirements.txt");
    await writeFile(requirements, requirementsText(staged), { mode: 0o600 });
    return { ok: true, value: { dir, findLinks, requirements, wheels: staged } };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { ok: false, error: errorMessage(error) };
  }
}
