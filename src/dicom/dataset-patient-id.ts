// Reads Patient ID (0010,0020) from a small DICOM data set (a C-FIND identifier), explicit or implicit VR little endian.
//
// The PACS's C-FIND pending responses carry one match each; the alert rules count the distinct
// patients a principal's queries returned. Only the top level is read, up to the first element
// past (0010,0020) (PS3.5 §7.1: elements are in ascending tag order); sequences of undefined
// length before it are skipped item by item. Every read is bounded; anything unexpected answers
// undefined (the caller then counts the response itself).

const PATIENT_ID = 0x00100020;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const UNDEFINED = 0xffffffff;
const MAX_DEPTH = 8;

/** PS3.5 §7.1.2: VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US',
  ...LONG_VRS,
]);

function tagAt(b: Buffer, o: number): number {
  return ((b.readUInt16LE(o) << 16) | b.readUInt16LE(o + 2)) >>> 0;
}

/** Whether the data set starts with an explicit VR (two upper-case letters naming a VR after the first tag). */
function looksExplicit(b: Buffer): boolean {
  return b.length >= 8 && VRS.has(b.toString('latin1', 4, 6));
}

interface Header { readonly tag: number; readonly length: number; readonly valueAt: number }

function header(b: Buffer, o: number, explicit: boolean): Header | undefined {
  if (o + 8 > b.length) return undefined;
  const tag = tagAt(b, o);
  // Item and delimitation tags are always 8 bytes (PS3.5 §7.5), in either VR encoding.
  if (!explicit || (tag >>> 16) === 0xfffe) return { tag, length: b.readUInt32LE(o + 4), valueAt: o + 8 };
  const vr = b.toString('latin1', o + 4, o + 6);
  if (!VRS.has(vr)) return undefined;
  if (!LONG_VRS.has(vr)) return { tag, length: b.readUInt16LE(o + 6), valueAt: o + 8 };
  if (o + 12 > b.length) return undefined;
  return { tag, length: b.readUInt32LE(o + 8), valueAt: o + 12 };
}

/** Offset after a value of undefined length starting at `o` (items up to the sequence delimiter), or -1. */
function skipUndefined(b: Buffer, o: number, explicit: boolean, depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  for (;;) {
    const h = header(b, o, true);
    if (h === undefined) return -1;
    if (h.tag === SEQUENCE_END) return h.valueAt;
    if (h.tag !== ITEM) return -1;
    if (h.length !== UNDEFINED) {
      o = h.valueAt + h.length;
      continue;
    }
    // An item of undefined length: its elements, then the item delimiter.
    o = h.valueAt;
    for (;;) {
      const e = header(b, o, explicit);
      if (e === undefined) return -1;
      if (e.tag === ITEM_END) { o = e.valueAt; break; }
      o = e.length === UNDEFINED ? skipUndefined(b, e.valueAt, explicit, depth + 1) : e.valueAt + e.length;
      if (o < 0 || o > b.length) return -1;
    }
  }
}

/** Reads the top-level string values of `tags` (ascending scan, stops past the largest); unreadable data ends the scan. */
export function topLevelStrings(ds: Buffer, tags: readonly number[]): Map<number, string> {
  const out = new Map<number, string>();
  const wanted = new Set(tags);
  const last = Math.max(...tags);
  const explicit = looksExplicit(ds);
  let o = 0;
  while (o < ds.length) {
    const h = header(ds, o, explicit);
    if (h === undefined || h.tag > last) break;
    if (wanted.has(h.tag) && h.length !== UNDEFINED && h.length <= 1024 && h.valueAt + h.length <= ds.length) {
      const v = ds.toString('latin1', h.valueAt, h.valueAt + h.length).replace(/[\0 ]+$/, '').replace(/^ +/, '');
      if (v !== '') out.set(h.tag, v);
    }
    o = h.length === UNDEFINED ? skipUndefined(ds, h.valueAt, explicit, 0) : h.valueAt + h.length;
    if (o < 0) break;
  }
  return out;
}

/** Patient ID of the data set, without padding; undefined when absent, empty or unreadable. */
export function patientIdOf(ds: Buffer): string | undefined {
  const v = topLevelStrings(ds, [PATIENT_ID]).get(PATIENT_ID);
  return v === undefined || v.length > 64 ? undefined : v;
}

/** Tags of an identifier the audit export names: Patient's Name, Patient ID, Study Instance UID. */
export const IdentifierTag = Object.freeze({ PatientName: 0x00100010, PatientId: PATIENT_ID, StudyInstanceUid: 0x0020000d } as const);
