import { createHash, timingSafeEqual } from "node:crypto";
import type { Grants } from "../config/grants-schema.js";

/** What pipgate.yaml stores instead of a token: the same digest `printf %s TOKEN | sha256sum` prints. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The token of an `Authorization: Bearer …` header, or undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
  return match?.[1];
}

/**
 * The grant a token opens, comparing digests in constant time and every grant each time, so the
 * answer's timing tells nothing about which grant (if any) came close.
 */
export function grantForToken(grants: Grants, token: string): string | undefined {
  const digest = Buffer.from(hashToken(token), "hex");
  let found: string | undefined;
  for (const [name, grant] of Object.entries(grants)) {
    if (grant.token_sha256 === undefined) continue;
    if (timingSafeEqual(digest, Buffer.from(grant.token_sha256, "hex")) && found === undefined) found = name;
  }
  return found;
}
