// The slab pool keeps what the load needs and lets go of what a period did not use.

import t from 'tap';
import { freeSlabs, giveSlab, SLAB_BYTES, slabsInUse, takeSlab, trimSlabsNow } from '../../src/util/slab-pool.js';

t.test('a burst of 300 queued chunks: every slab is kept for reuse, then let go once unused', async (t) => {
  trimSlabsNow();
  trimSlabsNow();
  t.equal(freeSlabs(), 0, 'starts empty');
  const burst = Array.from({ length: 300 }, () => takeSlab());
  t.equal(slabsInUse(), 300);
  t.ok(burst.every((b) => b.length === SLAB_BYTES));
  for (const b of burst) giveSlab(b);
  t.equal(slabsInUse(), 0, 'all given back');
  t.equal(freeSlabs(), 300, 'all kept (a pool of 64 dropped 236, and the next burst allocated them again)');

  const again = Array.from({ length: 300 }, () => takeSlab());
  t.ok(again.every((b) => burst.includes(b)), 'the next burst reuses them: no new buffer');
  for (const b of again) giveSlab(b);

  trimSlabsNow();
  t.equal(freeSlabs(), 300, 'a period in which the whole pool was taken keeps it');
  trimSlabsNow();
  t.equal(freeSlabs(), 0, 'the next period, with none taken, lets all go');
});

t.test('a trim lets go only of slabs that stayed free for the whole period', async (t) => {
  trimSlabsNow();
  trimSlabsNow();
  const batch = Array.from({ length: 20 }, () => takeSlab());
  for (const b of batch) giveSlab(b);
  trimSlabsNow(); // the period of the batch: 0 were free throughout
  t.equal(freeSlabs(), 20);
  const five = Array.from({ length: 5 }, () => takeSlab());
  for (const b of five) giveSlab(b);
  trimSlabsNow(); // 15 stayed free the whole period
  t.equal(freeSlabs(), 5, 'the 5 in use during the period stay');
  trimSlabsNow();
  t.equal(freeSlabs(), 0, 'and go after a period without use');
});

t.test('a buffer that is not a slab is not kept', async (t) => {
  const before = freeSlabs();
  giveSlab(Buffer.alloc(100));
  t.equal(freeSlabs(), before);
});
