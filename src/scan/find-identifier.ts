// The C-FIND identifier the deep probe sends: Study Root, STUDY level, asking for nothing but the key.

/** One element in Implicit VR Little Endian (PS3.5 §7.1.3): tag, 4-byte length, even-length value. */
function element(group: number, elementNo: number, value: string, pad: string): Buffer {
  const v = Buffer.from(value.length % 2 === 0 ? value : value + pad, 'latin1');
  const head = Buffer.alloc(8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elementNo, 2);
  head.writeUInt32LE(v.length, 4);
  return Buffer.concat([head, v]);
}

/**
 * (0008,0052) Query/Retrieve Level = STUDY and an empty (0020,000D) Study Instance UID as the
 * unique key (PS3.4 C.4.1.2.1): every study matches, and each match carries only its UID back.
 */
export function studyLevelIdentifier(): Buffer {
  return Buffer.concat([element(0x0008, 0x0052, 'STUDY', ' '), element(0x0020, 0x000d, '', '\0')]);
}
