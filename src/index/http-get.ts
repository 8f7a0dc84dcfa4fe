import type { Dispatcher, request as undiciRequest } from "undici";
import { errorMessage, type Result } from "../errors.js";
import { commonJsExports } from "../commonjs.js";

/** A bounded GET's answer: any status (callers decide what a 404 or 304 means), the body read in full. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface HttpGetOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  retries: number;
  maxBytes: number;
  dispatcher: Dispatcher | undefined;
  /** waits between retries; tests may pass one that does not sleep */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * GET with bounded waits (headers and body timeouts), a cap on the body's size and retries with
 * exponential backoff on network errors and 5xx answers only — a 4xx is an answer, not a hiccup.
 * The failure value says why the last attempt failed; it never contains the request's headers.
 */
export async function httpGet(url: string, options: HttpGetOptions): Promise<Result<HttpAnswer, string>> {
  const sleep = options.sleep ?? defaultSleep;
  let lastError = "no attempt made";
  for (let attempt = 0; attempt <= options.retries; attempt += 1) {
    if (attempt > 0) await sleep(Math.min(100 * 2 ** (attempt - 1), 2_000));
    const answer = await getFollowingRedirects(url, options);
    if (answer.ok && answer.value.status < 500) return answer;
    lastError = answer.ok ? `HTTP ${answer.value.status}` : answer.error;
    if (!answer.ok && answer.error.startsWith("too large")) break;
  }
  return { ok: false, error: lastError };
}

const MAX_REDIRECTS = 3;

/** Follows a few redirects within the same origin only, so credentials never travel to another host. */
async function getFollowingRedirects(url: string, options: HttpGetOptions): Promise<Result<HttpAnswer, string>> {
  let current = url;
  for (let hop = 0; ; hop += 1) {
    const answer = await attemptGet(current, options);
    if (!answer.ok || ![301, 302, 303, 307, 308].includes(answer.value.status)) return answer;
    const location = answer.value.headers.location;
    const target = typeof location === "string" ? new URL(location, current) : undefined;
    if (target === undefined || target.origin !== new URL(current).origin) {
      return answer; // the caller sees the 3xx: another origin is not followed
    }
    if (hop >= MAX_REDIRECTS) return { ok: false, error: `more than ${MAX_REDIRECTS} redirects` };
    current = target.toString();
  }
}

/** undici, loaded on the first request: a command that never asks the index does not pay its start-up. */
let undici: Promise<{ request: typeof undiciRequest }> | undefined;
export const loadUndici = (): Promise<{ request: typeof undiciRequest }> => (undici ??= import("undici").then(commonJsExports));

async function attemptGet(url: string, options: HttpGetOptions): Promise<Result<HttpAnswer, string>> {
  try {
    const { request } = await loadUndici();
    const response = await request(url, {
      method: "GET",
      headers: options.headers,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > options.maxBytes) {
        response.body.destroy();
        return { ok: false, error: `too large: the answer exceeds ${options.maxBytes} bytes` };
      }
      chunks.push(chunk);
    }
    return { ok: true, value: { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) } };
  } catch (error) {
    return { ok: false, error: describeNetworkError(error) };
  }
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${code}: ${errorMessage(error)}` : errorMessage(error);
}
