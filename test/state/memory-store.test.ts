// The StateStore contract against the embedded memory store, with an injected clock instead of sleeping.

import t from 'tap';
import { MemoryStore } from '../../src/state/memory-store.js';
import { storeContract, type ContractClock } from './store-contract.js';

let now = 1_700_000_000_000;
const clock: ContractClock = { advance: async (ms) => { now += ms; } };

await storeContract(t, () => new MemoryStore({ clock: () => now }), clock);

t.test('expired entries are swept, so nothing grows without bound', async (t) => {
  const s = new MemoryStore({ clock: () => now });
  t.teardown(() => s.close());
  for (let i = 0; i < 100; i++) await s.increment(`c:${i}`, 1000);
  t.equal(s.size(), 100);
  now += 1001;
  t.equal(s.size(), 0);
});
