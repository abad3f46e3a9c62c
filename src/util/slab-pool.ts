// Reused 64 KB buffers for bytes that must outlive a shared read buffer (the DIMSE pipe's upstream
// batches, the HTTPS edge's queued response chunks). A fresh buffer per copy is external memory to
// V8: hundreds of MB/s of it start a mark-compact every ~100 ms (docs/benchmarks.md).
//
// How many are kept follows the load: up to POOL_MAX free slabs, and every TRIM_MS the slabs that
// stayed free for the whole period (the low-water mark of the free list) are let go. 200 clients
// each with a queue of WADO-RS bytes hold ~800 slabs at once; a fixed pool of 64 dropped most of
// them on return and allocated them again, and the collector took 10 % of the gateway's CPU.

/** Size of one slab. */
export const SLAB_BYTES = 65536;
/** Free slabs kept at most (64 MB). */
const POOL_MAX = 1024;
/** How often slabs unused for a whole period are let go. */
const TRIM_MS = 10_000;

const free: Buffer[] = [];
/** The fewest free slabs since the last trim: that many were not needed during the period. */
let lowWater = 0;
let trimmer: NodeJS.Timeout | undefined;
/** Slabs taken and not given back yet. */
let out = 0;

function trim(): void {
  if (lowWater > 0) free.splice(0, lowWater);
  lowWater = free.length;
  if (free.length === 0) {
    clearInterval(trimmer);
    trimmer = undefined;
  }
}

/** A slab of SLAB_BYTES, reused when one is free. Its content is whatever its last user left. */
export function takeSlab(): Buffer {
  out++;
  const slab = free.pop();
  if (free.length < lowWater) lowWater = free.length;
  return slab ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
}

/** Gives a slab back once nothing reads it any more (its writes completed or failed). */
export function giveSlab(slab: Buffer): void {
  if (slab.length !== SLAB_BYTES) return;
  out--;
  if (free.length >= POOL_MAX) return;
  free.push(slab);
  if (trimmer === undefined) {
    trimmer = setInterval(trim, TRIM_MS);
    trimmer.unref();
  }
}

/** Slabs taken and not given back (for tests). */
export function slabsInUse(): number {
  return out;
}

/** Free slabs held (for tests). */
export function freeSlabs(): number {
  return free.length;
}

/** Runs one trim period at once (for tests): slabs not taken since the last one are let go. */
export function trimSlabsNow(): void {
  trim();
}
