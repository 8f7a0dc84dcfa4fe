/**
 * The last bytes an upstream wrote to its stderr, for error messages. An upstream can write without end;
 * this keeps at most `limit` bytes (a ring of chunks trimmed from the front), so its noise costs bounded
 * memory and never reaches pipgate's own stdout or stderr.
 */
export class StderrTail {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit = 16 * 1024) {}

  push(chunk: Buffer): void {
    const piece = chunk.length > this.limit ? chunk.subarray(chunk.length - this.limit) : chunk;
    this.chunks.push(Buffer.from(piece));
    this.size += piece.length;
    while (this.size > this.limit) {
      const first = this.chunks[0];
      if (first === undefined) break;
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  /** The tail as one line of at most `max` characters: control characters become spaces, runs collapse. */
  summary(max = 1000): string {
    const text = Buffer.concat(this.chunks)
      .toString("utf8")
      // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
      .replace(/[\u0000-\u001f\u007f]+/g, " ")
      .replace(/ {2,}/g, " ")
      .trim();
    return text.length > max ? `…${text.slice(text.length - max)}` : text;
  }
}
