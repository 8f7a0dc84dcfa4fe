import { crc32, deflateRawSync } from "node:zlib";

/** One entry for a hand-made archive: every field a hostile archive might lie about can be set. */
export interface RawEntry {
  name: string;
  data: Buffer;
  deflate?: boolean;
  /** Full st_mode (type and permissions) for the external attributes; default a regular 0644 file. */
  mode?: number;
  /** Name written in the local header, when it should differ from the central one. */
  localName?: string;
  /** Declared uncompressed size and CRC, when they should lie. */
  size?: number;
  crc?: number;
}

/** A central record with no local header of its own: it points wherever the test says. */
export interface CentralOnly {
  name: string;
  offset: number;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
}

export interface Built {
  archive: Buffer;
  /** Local header offset and data offset of each entry, for building overlaps. */
  offsets: { header: number; data: number }[];
}

/** Local header + name + body, as written in front of an entry's data. */
export function localRecord(name: string, body: Buffer, fields: { method: number; crc: number; size: number }): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(0x0800, 6);
  header.writeUInt16LE(fields.method, 8);
  header.writeUInt32LE(fields.crc, 14);
  header.writeUInt32LE(body.length, 18);
  header.writeUInt32LE(fields.size, 22);
  header.writeUInt16LE(nameBytes.length, 26);
  return Buffer.concat([header, nameBytes, body]);
}

function centralRecord(name: string, fields: CentralOnly & { mode: number }): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  const header = Buffer.alloc(46);
  header.writeUInt32LE(0x02014b50, 0);
  header.writeUInt16LE((3 << 8) | 20, 4);
  header.writeUInt16LE(20, 6);
  header.writeUInt16LE(0x0800, 8);
  header.writeUInt16LE(fields.method, 10);
  header.writeUInt32LE(fields.crc, 16);
  header.writeUInt32LE(fields.compressedSize, 20);
  header.writeUInt32LE(fields.size, 24);
  header.writeUInt16LE(nameBytes.length, 28);
  header.writeUInt32LE((fields.mode << 16) >>> 0, 38);
  header.writeUInt32LE(fields.offset, 42);
  return Buffer.concat([header, nameBytes]);
}

/** End-of-central-directory record for a single-disk archive. */
export function endRecord(count: number, centralSize: number, centralOffset: number): Buffer {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(centralOffset, 16);
  return end;
}

/** Writes a zip archive exactly as told, lies included, for the cases no honest writer produces. */
export function rawZip(entries: RawEntry[], extra: CentralOnly[] = []): Built {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const offsets: Built["offsets"] = [];
  let offset = 0;
  for (const entry of entries) {
    const body = entry.deflate === true ? deflateRawSync(entry.data) : entry.data;
    const fields = {
      method: entry.deflate === true ? 8 : 0,
      crc: entry.crc ?? crc32(entry.data),
      size: entry.size ?? entry.data.length,
    };
    const local = localRecord(entry.localName ?? entry.name, body, fields);
    offsets.push({ header: offset, data: offset + local.length - body.length });
    centrals.push(centralRecord(entry.name, { ...fields, name: entry.name, offset, compressedSize: body.length, mode: entry.mode ?? 0o100644 }));
    locals.push(local);
    offset += local.length;
  }
  for (const record of extra) centrals.push(centralRecord(record.name, { ...record, mode: 0o100644 }));
  const central = Buffer.concat(centrals);
  const archive = Buffer.concat([...locals, central, endRecord(centrals.length, central.length, offset)]);
  return { archive, offsets };
}
