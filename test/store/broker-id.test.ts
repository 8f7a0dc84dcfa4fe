import { describe, expect, it } from "vitest";
import { brokerIdOf } from "../../src/state/broker-id.js";
import { openMemoryDb } from "../../src/state/db.js";

describe("a state directory's broker id", () => {
  it("is made once and then read back, whoever asks", () => {
    const db = openMemoryDb();
    const id = brokerIdOf(db);
    expect(id).toMatch(/^brk_[a-z2-9]{10}@\S+$/);
    expect(brokerIdOf(db)).toBe(id);
    expect(brokerIdOf(openMemoryDb())).not.toBe(id);
  });

  it("refuses a value that is not an id rather than replacing it: approvals name it", () => {
    const db = openMemoryDb();
    db.prepare("INSERT INTO local_meta (key, value) VALUES ('broker_id', 'someone else')").run();
    expect(() => brokerIdOf(db)).toThrow(/local_meta\.broker_id\) is "someone else", not an id of the form brk_…@host/);
  });
});
