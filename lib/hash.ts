/**
 * A fast 64-bit fingerprint of a lead payload (two independent 32-bit FNV-1a style lanes),
 * for "did this lead change since it was last accepted". Not cryptographic: it only has to
 * make accidental collisions between two versions of one lead negligible (2^-64). The lanes
 * are computed in `lib/engine/fingerprint.ts` (which the engine uses without the hex form);
 * this is the 16-hex-digit form the index stores.
 */
import { hashHex, payloadHashLanes } from "./engine/fingerprint.ts";

const lanes = new Uint32Array(2);

export function payloadHash(text: string): string {
  payloadHashLanes(text, lanes);
  return hashHex(lanes[0]!, lanes[1]!);
}
