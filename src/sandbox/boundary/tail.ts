/**
 * The last `capacity` bytes written, in a fixed amount of memory: what a build's or an upstream's output
 * stream keeps for error messages, however much it writes.
 */
export class ByteTail {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly capacity: number) {}

  push(bytes: Buffer): void {
    const kept = bytes.length > this.capacity ? bytes.subarray(bytes.length - this.capacity) : bytes;
    this.chunks.push(Buffer.from(kept));
    this.size += kept.length;
    while (this.size > this.capacity) {
      const first = this.chunks[0]!;
      const excess = this.size - this.capacity;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}
