// User Identity sub-item (0x58): PduError only; what parses re-encodes to the same bytes.

import { buildUserIdentityRq, parseUserIdentityRq } from '../../../src/dicom/user-identity.js';
import { must, type FuzzTarget } from '../engine/target.js';
import fc from 'fast-check';

export const userIdentityTarget: FuzzTarget = {
  name: 'user-identity',
  about: 'src/dicom/user-identity.ts: the 0x58 sub-item value; PduError only; parse then build gives the same bytes; a secondary field only for type 2',
  files: ['src/dicom/user-identity', 'src/dicom/byte-reader'],
  maxLength: 1024,
  dictionary: [Buffer.from([2, 1, 0, 4]), Buffer.from([5, 0, 0, 0]), Buffer.from([0, 0]), 'eyJhbGciOiJIUzI1NiJ9.e30.sig'],
  seeds: () => [
    buildUserIdentityRq({ type: 2, positiveResponseRequested: true, primary: Buffer.from('rita'), secondary: Buffer.from('correct-horse123456') }).subarray(4),
    buildUserIdentityRq({ type: 5, positiveResponseRequested: false, primary: Buffer.from('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJyIn0.c2ln'), secondary: Buffer.alloc(0) }).subarray(4),
  ],
  generate: fc.record({ type: fc.integer({ min: 0, max: 255 }), positiveResponseRequested: fc.boolean(), primary: fc.uint8Array({ maxLength: 300 }), secondary: fc.uint8Array({ maxLength: 300 }) })
    .map((r) => buildUserIdentityRq({ ...r, primary: Buffer.from(r.primary), secondary: Buffer.from(r.secondary) }).subarray(4)),
  run(input) {
    const id = parseUserIdentityRq(input);
    must(id.primary.length > 0, 'an empty primary field was accepted');
    must(id.type === 2 || id.secondary.length === 0, `type ${id.type} with a secondary field was accepted`);
    const again = buildUserIdentityRq(id).subarray(4);
    // Positive-response-requested is a flag: any non-1 value reads as "no", and is written back as 0.
    const expected = Buffer.from(input);
    if (expected[1] !== 1) expected[1] = 0;
    must(again.equals(expected), 'a parsed user identity re-encodes to different bytes');
  },
};
