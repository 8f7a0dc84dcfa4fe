import { ByteTail } from "../sandbox/boundary/tail.js";

/**
 * The last bytes an upstream wrote to its stderr, for error messages. An upstream can write without end;
 * this keeps at most `limit` bytes (a ring of chunks trimmed from the front), so its noise costs bounded
 * memory and never reaches pipgate's own stdout or stderr.
 */
export class StderrTail {
  private readonly tail: ByteTail;

  constructor(limit = 16 * 1024) {
    this.tail = new ByteTail(limit);
  }

  push(chunk: Buffer): void {
    this.tail.push(chunk);
  }

  /** The tail as one line of at most `max` characters: control characters become spaces, runs collapse. */
  summary(max = 1000): string {
    const text = this.tail
      .text()
      // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
      .replace(/[\u0000-\u001f\u007f]+/g, " ")
      .replace(/ {2,}/g, " ")
      .trim();
    return text.length > max ? `…${text.slice(text.length - max)}` : text;
  }
}
