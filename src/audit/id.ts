import { randomBytes } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A record id that sorts by time and never collides: `aud_` + 10 characters of milliseconds + 16 of
 * randomness (the ULID layout), so ids read in order in listings and a short prefix is usually unique.
 */
export function newAuditId(now: Date): string {
  let time = Math.max(0, Math.floor(now.getTime()));
  let head = "";
  for (let i = 0; i < 10; i += 1) {
    head = CROCKFORD.charAt(time % 32) + head;
    time = Math.floor(time / 32);
  }
  const bytes = randomBytes(16);
  let tail = "";
  for (const byte of bytes) tail += CROCKFORD.charAt(byte % 32);
  return `aud_${head}${tail}`;
}
