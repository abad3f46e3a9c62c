// Faults with nothing lost, short version (npm run soak has the full one): C-STOREs and STOW-RS uploads through the
// gateway while Orthanc, Redis, the network to Orthanc and the gateway itself fail; every acknowledged instance is in
// Orthanc byte for byte (apart from group 0002), every failure was a refusal in the protocol's terms.

import t from 'tap';
import { startEnvironment } from './environment.js';
import { runFaults } from './faults.js';

t.test('faults with nothing lost (short)', async (t) => {
  const env = await startEnvironment((l) => t.comment(l));
  t.teardown(() => env.close());
  const r = await runFaults(env, { stores: 300, stows: 40, associations: 6, perAssociation: 10, uploaders: 2, faultEveryMs: 2000, log: (l) => t.comment(l) });
  t.comment(JSON.stringify({ ...r, missing: r.missing.length, different: r.different.length, improper: r.improper.slice(0, 5) }));
  t.same([...new Set(r.faults.map((f) => f.kind))].sort(), ['gateway-killed', 'network-stall', 'pacs-killed', 'redis-killed'], 'every kind of fault happened during the run');
  t.ok(r.acknowledged > 0 && r.acknowledged < r.sent + 1, `${r.acknowledged} of ${r.sent} acknowledged`);
  t.same(r.missing, [], 'every acknowledged instance is in Orthanc');
  t.same(r.different, [], 'byte for byte (data set after group 0002)');
  t.equal(r.verified, r.acknowledged, 'verified = acknowledged');
  t.same(r.improper, [], 'every failure was a DIMSE failure status, A-ASSOCIATE-RJ, A-ABORT, HTTP 5xx, or the killed gateway');
  t.same(r.unexpectedExits, [], 'the gateway never exited unless killed');
  t.ok(r.rss.maxMb > 0 && r.rss.maxMb < 512, `gateway RSS bounded (max ${r.rss.maxMb.toFixed(0)} MB)`);
});
