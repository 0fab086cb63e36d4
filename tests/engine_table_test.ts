/** The engine's fingerprints and its fingerprint table, against a `Map` as reference. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  emailFingerprint,
  hashHex,
  lanes,
  parseHashHex,
  payloadHashLanes,
} from "../lib/engine/fingerprint.ts";
import { ABSENT, BYTES_PER_SLOT, FingerprintTable, FULL } from "../lib/engine/fingerprint_table.ts";
import { payloadHash } from "../lib/hash.ts";

Deno.test("payloadHashLanes gives the lanes of payloadHash", () => {
  const out = lanes();
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      payloadHashLanes(text, out);
      assert.equal(hashHex(out[0]!, out[1]!), payloadHash(text));
      const back = lanes();
      assert.equal(parseHashHex(payloadHash(text), 0, back), true);
      assert.deepEqual([...back], [...out]);
    }),
    { numRuns: 500 },
  );
  payloadHashLanes('{"email":"a@x.com"}', out);
  assert.equal(hashHex(out[0]!, out[1]!), payloadHash('{"email":"a@x.com"}'));
});

Deno.test("parseHashHex refuses what is not 16 hex digits", () => {
  const out = lanes();
  assert.equal(parseHashHex("0123456789abcdeF", 0, out), true);
  assert.deepEqual([...out], [0x01234567, 0x89abcdef]);
  assert.equal(parseHashHex("x0123456789abcdef", 1, out), true);
  assert.equal(parseHashHex("0123456789abcde", 0, out), false);
  assert.equal(parseHashHex("0123456789abcdeg", 0, out), false);
  assert.equal(parseHashHex("-123456789abcdef", 0, out), false);
});

Deno.test("emailFingerprint: deterministic, start and end offsets, distinct on near-identical emails", () => {
  const a = lanes();
  const b = lanes();
  emailFingerprint("ann@x.com", a);
  emailFingerprint("zz:ann@x.com", b, 0, 3);
  assert.deepEqual([...a], [...b]);
  emailFingerprint("zz:ann@x.com\nnext@x.com", b, 0, 3, 12); // a line of a page
  assert.deepEqual([...a], [...b]);
  const seen = new Set<string>();
  for (let i = 0; i < 200_000; i++) {
    emailFingerprint(`user${i}@example.com`, a);
    seen.add(`${a[0]}:${a[1]}`);
  }
  assert.equal(seen.size, 200_000);
  // both lanes vary (neither is constant across keys)
  emailFingerprint("a@x.com", a);
  emailFingerprint("b@x.com", b);
  assert.notEqual(a[0], b[0]);
  assert.notEqual(a[1], b[1]);
});

type Op =
  | { op: "insert"; k: number }
  | { op: "find"; k: number }
  | { op: "set"; k: number; h: number; v: number; f: number };

/** Keys from a small pool whose lo lanes often collide, so probing and wrap-around are used. */
function keyOf(k: number): [number, number] {
  const hi = k === 0 ? 0 : (Math.imul(k, 0x9e3779b1) >>> 0);
  const lo = k % 7 === 0 ? 0xffffffff : k % 5 === 0 ? 0 : (k % 13) * 0x10000000;
  return [hi, lo];
}

Deno.test("FingerprintTable agrees with a Map on random operations", () => {
  const ops: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant("insert" as const), k: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ op: fc.constant("find" as const), k: fc.integer({ min: 0, max: 300 }) }),
    fc.record({
      op: fc.constant("set" as const),
      k: fc.integer({ min: 0, max: 300 }),
      h: fc.integer({ min: 0, max: 0xffffffff }),
      v: fc.integer({ min: 0, max: 0xffffffff }),
      f: fc.integer({ min: 0, max: 255 }),
    }),
  );
  fc.assert(
    fc.property(fc.array(ops, { maxLength: 600 }), fc.boolean(), (list, capped) => {
      const maxBytes = capped ? 60 * BYTES_PER_SLOT : undefined;
      const t = new FingerprintTable(maxBytes ? { maxBytes } : {});
      const ref = new Map<number, { h: number; l: number; v: number; f: number }>();
      // (0, 0) and (0, 1) are one key in the table (the reserved empty key)
      const canon = (k: number) => {
        const [hi, lo] = keyOf(k);
        return hi === 0 && lo === 0 ? "0:1" : `${hi}:${lo}`;
      };
      const idOf = new Map<string, number>();
      const refKey = (k: number) => {
        const c = canon(k);
        if (!idOf.has(c)) idOf.set(c, k);
        return idOf.get(c)!;
      };
      for (const o of list) {
        const [hi, lo] = keyOf(o.k);
        const rk = refKey(o.k);
        if (o.op === "insert") {
          const s = t.insert(hi, lo);
          if (s === FULL) {
            assert.equal(ref.has(rk), false);
            assert.equal(t.full, true);
            assert.ok(maxBytes !== undefined && t.bytes <= maxBytes);
          } else {
            assert.equal(t.inserted, !ref.has(rk));
            if (!ref.has(rk)) ref.set(rk, { h: 0, l: 0, v: 0, f: 0 });
            assert.equal(t.value(s), ref.get(rk)!.v);
          }
        } else if (o.op === "find") {
          const s = t.find(hi, lo);
          const r = ref.get(rk);
          if (r === undefined) assert.equal(s, ABSENT);
          else {
            assert.notEqual(s, ABSENT);
            assert.equal(t.hashHi(s), r.h);
            assert.equal(t.hashLo(s), r.l);
            assert.equal(t.value(s), r.v);
            assert.equal(t.flags(s), r.f);
          }
        } else {
          const s = t.find(hi, lo);
          if (s === ABSENT) continue;
          t.setHash(s, o.h, (o.h ^ 0x5a5a5a5a) >>> 0);
          t.setValue(s, o.v);
          t.setFlags(s, o.f);
          assert.equal(t.hashEquals(s, o.h, (o.h ^ 0x5a5a5a5a) >>> 0), true);
          ref.set(rk, { h: o.h, l: (o.h ^ 0x5a5a5a5a) >>> 0, v: o.v, f: o.f });
        }
      }
      assert.equal(t.size, ref.size);
      assert.equal([...t.slots()].length, ref.size);
      assert.ok(t.size <= t.capacity * 0.75);
      for (const [k, r] of ref) {
        const [hi, lo] = keyOf(k);
        const s = t.find(hi, lo);
        assert.notEqual(s, ABSENT);
        assert.equal(t.value(s), r.v);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("FingerprintTable: grows from 16 slots to a million keys, all still found", () => {
  const t = new FingerprintTable();
  const fp = lanes();
  const n = 1_000_000;
  for (let i = 0; i < n; i++) {
    emailFingerprint(`lead${i}@example.com`, fp);
    const s = t.insert(fp[0]!, fp[1]!);
    assert.equal(t.inserted, true);
    t.setValue(s, i + 1);
  }
  assert.equal(t.size, n);
  assert.ok(t.capacity >= n / 0.75 && t.capacity <= (n / 0.75) * 1.5 + 2);
  for (let i = 0; i < n; i += 997) {
    emailFingerprint(`lead${i}@example.com`, fp);
    assert.equal(t.value(t.find(fp[0]!, fp[1]!)), i + 1);
  }
  emailFingerprint("absent@example.com", fp);
  assert.equal(t.find(fp[0]!, fp[1]!), ABSENT);
});

Deno.test("FingerprintTable: past maxBytes new keys are refused, old ones still work", () => {
  const t = new FingerprintTable({ maxBytes: 1000 * BYTES_PER_SLOT });
  let i = 0;
  for (; i < 10_000; i++) {
    if (t.insert(1, i + 1) === FULL) break;
  }
  assert.equal(t.full, true);
  assert.equal(t.size, 750); // the load limit of 1000 slots
  assert.equal(t.bytes, 1000 * BYTES_PER_SLOT);
  const s = t.insert(1, 5); // existing key: found, not refused
  assert.notEqual(s, FULL);
  assert.equal(t.inserted, false);
  assert.equal(t.find(1, 749 + 1) >= 0, true);
  assert.equal(t.find(1, 751 + 1), ABSENT);
});

Deno.test("FingerprintTable: expected presizes, so no growth is needed", () => {
  const t = new FingerprintTable({ expected: 1000 });
  const cap = t.capacity;
  for (let i = 1; i <= 1000; i++) t.insert(7, i);
  assert.equal(t.capacity, cap);
});
