import { gzipSync } from "node:zlib";

/** One tar member as written, lies included: a type, a link, a size field that is not the data's. */
export interface RawMember {
  name: string;
  data?: Buffer;
  /** typeflag: "0" file, "1" hard link, "2" symlink, "5" directory, "x" pax header, "L" GNU long name … */
  type?: string;
  linkname?: string;
  /** What the header's size field says; default the data's length. */
  declaredSize?: number;
  /** Write a wrong checksum. */
  badChecksum?: boolean;
}

function put(block: Buffer, value: string, offset: number, length: number): void {
  Buffer.from(value, "utf8").subarray(0, length).copy(block, offset);
}

function header(member: RawMember): Buffer {
  const block = Buffer.alloc(512);
  const size = member.declaredSize ?? member.data?.length ?? 0;
  put(block, member.name, 0, 100);
  put(block, "0000644\0", 100, 8);
  put(block, "0000000\0", 108, 8);
  put(block, "0000000\0", 116, 8);
  put(block, size.toString(8).padStart(11, "0") + "\0", 124, 12);
  put(block, "13600000000\0", 136, 12);
  block.fill(" ", 148, 156);
  put(block, member.type ?? "0", 156, 1);
  put(block, member.linkname ?? "", 157, 100);
  put(block, "ustar\0", 257, 6);
  put(block, "00", 263, 2);
  let sum = 0;
  for (const byte of block) sum += byte;
  if (member.badChecksum === true) sum += 1;
  put(block, sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return block;
}

/** A pax extended header member carrying these records, for the member after it. */
export function paxMember(records: Record<string, string>): RawMember {
  const lines = Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    return `${length}${body}`;
  });
  return { name: "././@PaxHeader", type: "x", data: Buffer.from(lines.join("")) };
}

/** The tar stream (not gzipped), with the two zero blocks that end it unless `end` is false. */
export function rawTar(members: RawMember[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const member of members) {
    parts.push(header(member));
    const data = member.data ?? Buffer.alloc(0);
    parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function rawTarGz(members: RawMember[], end = true): Buffer {
  return gzipSync(rawTar(members, end));
}
