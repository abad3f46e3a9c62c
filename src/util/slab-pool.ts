// Reused 64 KB buffers for bytes that must outlive a shared read buffer (the DIMSE pipe's upstream
// batches, the HTTPS edge's queued response chunks). A fresh buffer per copy is external memory to
// V8: hundreds of MB/s of it start a mark-compact every ~100 ms (docs/benchmarks.md).

/** Size of one slab. */
export const SLAB_BYTES = 65536;
/** Free slabs kept for reuse (the rest are left to the garbage collector). */
const POOL_MAX = 64;

const free: Buffer[] = [];

/** A slab of SLAB_BYTES, reused when one is free. Its content is whatever its last user left. */
export function takeSlab(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
}

/** Gives a slab back once nothing reads it any more (its writes completed or failed). */
export function giveSlab(slab: Buffer): void {
  if (free.length < POOL_MAX && slab.length === SLAB_BYTES) free.push(slab);
}

/** Free slabs held (for tests). */
export function freeSlabs(): number {
  return free.length;
}
