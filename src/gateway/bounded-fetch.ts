import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";

/** Statuses whose Response may not carry a body (the Fetch standard's null-body statuses). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A fetch for the Streamable HTTP client transport that bounds what one upstream message may cost: a
 * JSON response body, or one server-sent event (the bytes between blank lines), over `maxMessageBytes`
 * errors the body stream and calls `onOverflow` (which closes the session), so a hostile HTTP upstream
 * cannot make pipgate buffer without end any more than a stdio one can.
 */
export function boundedFetch(maxMessageBytes: number, onOverflow: (reason: string) => void, base: FetchLike = fetch): FetchLike {
  return async (url, init) => {
    const response = await base(url, init);
    if (response.body === null || NULL_BODY.has(response.status)) return response;
    const eventStream = (response.headers.get("content-type") ?? "").toLowerCase().includes("text/event-stream");
    let size = 0;
    let lastNewline = false;
    const limiter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (eventStream) {
          for (const byte of chunk) {
            if (byte === 0x0d) continue;
            const newline = byte === 0x0a;
            size = newline && lastNewline ? 0 : size + 1;
            lastNewline = newline;
            if (size > maxMessageBytes) break;
          }
        } else {
          size += chunk.length;
        }
        if (size > maxMessageBytes) {
          const reason = `was stopped: it sent a message of more than ${Math.floor(maxMessageBytes / 1024)} KB (the limit is upstream.max_message_kb)`;
          onOverflow(reason);
          controller.error(new Error(`the upstream server ${reason}`));
          return;
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(limiter), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
