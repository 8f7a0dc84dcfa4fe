import type { IncomingMessage } from "node:http";

export type BodyRead = { ok: true; body: Buffer } | { ok: false; reason: "too-large" | "aborted" };

/**
 * A request body, read up to `maxBytes` where the bytes arrive: a declared Content-Length over the cap
 * is refused before anything is read, and a body that grows past it (chunked, or lying about its
 * length) stops being kept at the first chunk over. The rest is discarded, never buffered; the caller
 * answers 413 with `Connection: close`, so the socket goes once the answer is out.
 */
export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ ok: false, reason: "too-large" });
  return new Promise<BodyRead>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: BodyRead) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onAbort);
      chunks.length = 0;
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish({ ok: false, reason: "too-large" });
      else chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ ok: false, reason: "aborted" });
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onAbort);
  });
}
