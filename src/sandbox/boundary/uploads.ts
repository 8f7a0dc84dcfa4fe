import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";

/**
 * What a build hands back — its resolution report and the wheels it built — arrives as uploads over the
 * index proxy's socket, never as files the broker reads from a directory the container can write. The
 * sink names every file itself (a fixed name or a checked wheel filename), writes it into a directory
 * only the broker can reach, with O_EXCL | O_NOFOLLOW, counting and hashing bytes as they arrive, and
 * refuses past each cap. A hostile build can make its own request fail, nothing more.
 */

export interface OutputLimits {
  /** The resolution report. */
  maxReportBytes: number;
  /** One built wheel. */
  maxWheelBytes: number;
  /** Everything uploaded together. */
  maxTotalBytes: number;
  /** Files uploaded. */
  maxFiles: number;
}

/** A file the sandbox handed back, stored by the sink: its bytes, size and hash as they arrived. */
export interface ReceivedFile {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export type UploadAnswer = { status: 201 } | { status: 400 | 409 | 411 | 413; message: string };

export interface OutputSink {
  /** Receives one upload; `name` is the path after /_pipgate/out/. Never throws. */
  receive(name: string, declaredLength: number | undefined, body: Readable): Promise<UploadAnswer>;
  /** No more uploads are accepted (the container has ended). */
  seal(): void;
  /** The report, if one arrived. */
  report(): ReceivedFile | undefined;
  /** The wheels that arrived, by filename. */
  wheels(): ReceivedFile[];
  /** The first refusal, for the request's message: why the build's output was not accepted. */
  refusal(): string | undefined;
}

/** A wheel filename as the binary distribution format spells it; nothing that can name a path. */
const WHEEL_FILENAME = /^[A-Za-z0-9_.+!-]{1,200}\.whl$/;
const REPORT = "report.json";

export async function createOutputSink(dir: string, limits: OutputLimits): Promise<OutputSink> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = new Map<string, ReceivedFile>();
  let total = 0;
  let sealed = false;
  let firstRefusal: string | undefined;
  const refuse = <S extends 400 | 409 | 411 | 413>(status: S, message: string): UploadAnswer => {
    firstRefusal ??= message;
    return { status, message };
  };

  async function receive(name: string, declaredLength: number | undefined, body: Readable): Promise<UploadAnswer> {
    if (sealed) return refuse(409, "the sandbox has ended; no more output is accepted");
    const kind = name === REPORT ? "report" : name.startsWith("wheels/") && WHEEL_FILENAME.test(name.slice(7)) && !name.includes("..") ? "wheel" : undefined;
    if (kind === undefined)
      return refuse(400, `the sandbox handed back ${JSON.stringify(name.slice(0, 120))}, which is neither report.json nor wheels/<a wheel filename>`);
    if (files.has(name)) return refuse(409, `the sandbox handed back ${name} twice`);
    if (files.size >= limits.maxFiles) return refuse(413, `the sandbox handed back more than ${limits.maxFiles} files`);
    if (declaredLength === undefined) return refuse(411, `the upload of ${name} has no Content-Length`);
    const cap = kind === "report" ? limits.maxReportBytes : limits.maxWheelBytes;
    if (declaredLength > cap) return refuse(413, `the sandbox's ${name} is ${declaredLength} bytes, more than the ${cap} allowed`);
    if (total + declaredLength > limits.maxTotalBytes) return refuse(413, `the sandbox's output is larger than the ${limits.maxTotalBytes} bytes allowed`);
    total += declaredLength; // reserved now, so concurrent uploads cannot pass the total together
    const path = join(dir, kind === "report" ? REPORT : `wheel-${files.size}-${name.slice(7)}`);
    const placeholder: ReceivedFile = { name, path, size: 0, sha256: "" };
    files.set(name, placeholder);
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of body) {
        const bytes = chunk as Buffer;
        size += bytes.length;
        if (size > declaredLength) throw new Error(`the upload of ${name} is longer than its Content-Length`);
        hash.update(bytes);
        await handle.write(bytes);
      }
      if (size !== declaredLength) throw new Error(`the upload of ${name} ended after ${size} of ${declaredLength} bytes`);
      await handle.close();
      handle = undefined;
      files.set(name, { name, path, size, sha256: hash.digest("hex") });
      return { status: 201 };
    } catch (error) {
      files.delete(name);
      await handle?.close().catch(() => undefined);
      await rm(path, { force: true });
      return refuse(400, error instanceof Error ? error.message : String(error));
    }
  }

  const complete = (file: ReceivedFile) => file.sha256 !== "";
  return {
    receive,
    seal: () => {
      sealed = true;
    },
    report: () => {
      const file = files.get(REPORT);
      return file !== undefined && complete(file) ? file : undefined;
    },
    wheels: () => [...files.values()].filter((file) => file.name !== REPORT && complete(file)),
    refusal: () => firstRefusal,
  };
}

/** `wheels/NAME.whl` → `NAME.whl`: the filename the build gave its wheel. */
export function uploadedFilename(file: ReceivedFile): string {
  return file.name.startsWith("wheels/") ? file.name.slice(7) : file.name;
}
