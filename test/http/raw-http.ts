import { request, type Agent, type ClientRequest, type IncomingHttpHeaders } from "node:http";

/** Raw HTTP against `serve --http`, so tests control every header and byte and keep no client object. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export const ACCEPT = "application/json, text/event-stream";

export function initializeBody(id = 1): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
}

export function pingBody(id = 2): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method: "ping" });
}

/** One request, its whole answer read. */
export function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent }): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: options.method ?? "POST",
        agent: options.agent,
        headers: { "content-type": "application/json", accept: ACCEPT, ...options.headers },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A raw initialize with `token`; the new session's id, or undefined when refused. */
export async function rawInitialize(url: string, token: string, agent?: Agent): Promise<RawResponse & { sessionId: string | undefined }> {
  const response = await rawRequest(url, { headers: { authorization: `Bearer ${token}` }, body: initializeBody(), agent });
  const header = response.headers["mcp-session-id"];
  return { ...response, sessionId: typeof header === "string" ? header : undefined };
}

/** A ping on a session: 200 while it lives, 404 once it is gone. */
export function rawPing(url: string, token: string, sessionId: string): Promise<RawResponse> {
  return rawRequest(url, { headers: { authorization: `Bearer ${token}`, "mcp-session-id": sessionId }, body: pingBody() });
}

/** The session's standalone SSE stream (GET), held open until `close`; resolves once its headers are in. */
export function openStream(url: string, token: string, sessionId: string): Promise<{ status: number; close: () => Promise<void> }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "GET",
        headers: { accept: "text/event-stream", authorization: `Bearer ${token}`, "mcp-session-id": sessionId },
      },
      (res) => {
        res.resume();
        const closed = new Promise<void>((done) => res.once("close", () => done()));
        resolve({
          status: res.statusCode ?? 0,
          close: async () => {
            req.destroy();
            await closed;
          },
        });
      },
    );
    req.on("error", (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}

/**
 * A POST that sends `sendBytes` of a body and then waits without ending it (declaring `declaredBytes`
 * as Content-Length, or chunked when undefined): an answer can only come from a server that did not
 * wait for the whole body. Resolves with the answer once the server has also closed the connection.
 */
export function oversizedPost(url: string, headers: Record<string, string>, sendBytes: number, declaredBytes: number | undefined): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          accept: ACCEPT,
          ...(declaredBytes === undefined ? {} : { "content-length": String(declaredBytes) }),
          ...headers,
        },
      },
      (res) => {
        answered = true;
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => {
          const answer = { status: res.statusCode ?? 0, headers: res.headers, body: text };
          const socket = req.socket;
          if (socket === null || socket.destroyed) resolve(answer);
          else socket.once("close", () => resolve(answer));
        });
      },
    );
    // Once answered, writes into the closed connection fail (EPIPE, ECONNRESET): expected, not a result.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    chunk[0] = 0x5b; // "[": a JSON array that never closes
    let sent = 0;
    const pump = (): void => {
      while (sent < sendBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      // No req.end(): the body stays open, so only a server that stopped reading can answer.
    };
    pump();
  });
}
