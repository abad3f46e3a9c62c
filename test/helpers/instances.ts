// Test helper: generate synthetic DICOM Part-10 instances at test time (dcmjs) and split off file meta.
import { randomFillSync, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** SOP classes that every dcmtk `storescu` proposes by default and Orthanc accepts. */
export const SopClass = Object.freeze({
  ctImage: '1.2.840.10008.5.1.4.1.1.2',
  secondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
  mrImage: '1.2.840.10008.5.1.4.1.1.4',
} as const);

/** Uncompressed transfer syntaxes {@link makeInstance} can write. */
export const TransferSyntax = Object.freeze({
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
} as const);

/** Options for {@link makeInstance}; every field is optional. */
export interface MakeInstanceOptions {
  studyUid?: string;
  seriesUid?: string;
  sopInstanceUid?: string;
  /** Default: CT Image Storage. */
  sopClassUid?: string;
  /** Default: Explicit VR Little Endian. */
  transferSyntaxUid?: (typeof TransferSyntax)[keyof typeof TransferSyntax];
  /**
   * Minimum size of the random 16-bit pixel data in bytes (default 8 KiB). Rounded up to
   * whole rows (512 columns, or 16 for tiny sizes); above 64 MiB it becomes 512×512 frames.
   */
  pixelBytes?: number;
  /** Fills the 16-bit pixel data (all frames, rows × columns each) instead of random bytes; default random. */
  fillPixels?: (pixels: Uint16Array, rows: number, columns: number) => void;
  /** Default `Test^Gateway`. */
  patientName?: string;
  /** Default `PGW-TEST`. */
  patientId?: string;
  /** Further attributes in dcmjs "naturalized" form (keyword → value), e.g. `{ AccessionNumber: 'A1' }`. */
  extra?: Record<string, unknown>;
}

/** A generated instance: its Part-10 bytes and the identifiers a test needs. */
export interface TestInstance {
  /** The whole Part-10 file: preamble, `DICM`, file meta group 0002, data set. */
  buffer: Buffer;
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  patientName: string;
  patientId: string;
  /** Exact length of the Pixel Data value. */
  pixelBytes: number;
}

interface DcmjsDicomDict {
  dict: Record<string, unknown>;
  write(): ArrayBuffer;
}

interface DcmjsData {
  DicomDict: new (meta: Record<string, unknown>) => DcmjsDicomDict;
  DicomMetaDictionary: { denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown> };
}

// dcmjs ships no type declarations; type the two entry points used here.
const dcmjs = createRequire(import.meta.url)('dcmjs') as { data: DcmjsData };

const MAX_ROWS = 0xffff;
const FRAME_SIDE = 512;

/** A new random UID under the UUID-derived root `2.25` (PS3.5 §B.2), at most 44 characters. */
export function randomUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString(10)}`;
}

function modalityOf(sopClassUid: string): string {
  if (sopClassUid === SopClass.ctImage) return 'CT';
  if (sopClassUid === SopClass.mrImage) return 'MR';
  return 'OT';
}

function pixelGeometry(minBytes: number): { rows: number; columns: number; frames: number } {
  if (!Number.isSafeInteger(minBytes) || minBytes < 0) {
    throw new RangeError(`pixelBytes must be a non-negative integer, got ${minBytes}`);
  }
  const columns = minBytes < 1024 ? 16 : 512;
  const rows = Math.max(1, Math.ceil(minBytes / (columns * 2)));
  if (rows <= MAX_ROWS) return { rows, columns, frames: 1 };
  return { rows: FRAME_SIDE, columns: FRAME_SIDE, frames: Math.ceil(minBytes / (FRAME_SIDE * FRAME_SIDE * 2)) };
}

function dicomDateTime(now: Date): { date: string; time: string } {
  const iso = now.toISOString();
  return { date: iso.slice(0, 10).replaceAll('-', ''), time: iso.slice(11, 19).replaceAll(':', '') };
}

/**
 * Builds a synthetic, patient-free DICOM Part-10 instance with random pixel data and random
 * `2.25.` UIDs (unless given). The result is accepted by Orthanc (REST and C-STORE) and by
 * dcmtk `storescu` with its default presentation contexts.
 */
export function makeInstance(options: MakeInstanceOptions = {}): TestInstance {
  const sopClassUid = options.sopClassUid ?? SopClass.ctImage;
  const transferSyntaxUid = options.transferSyntaxUid ?? TransferSyntax.explicitLittle;
  const studyUid = options.studyUid ?? randomUid();
  const seriesUid = options.seriesUid ?? randomUid();
  const sopInstanceUid = options.sopInstanceUid ?? randomUid();
  const patientName = options.patientName ?? 'Test^Gateway';
  const patientId = options.patientId ?? 'PGW-TEST';
  const { rows, columns, frames } = pixelGeometry(options.pixelBytes ?? 8192);
  const pixels = new Uint8Array(rows * columns * 2 * frames);
  if (options.fillPixels === undefined) randomFillSync(pixels);
  else options.fillPixels(new Uint16Array(pixels.buffer, pixels.byteOffset, pixels.length / 2), rows, columns);
  const { date, time } = dicomDateTime(new Date());

  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: transferSyntaxUid,
    ImplementationClassUID: '2.25.216963617127381739315151843915463092321',
    ImplementationVersionName: 'PGW_TEST_1',
  };
  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    SOPClassUID: sopClassUid,
    SOPInstanceUID: sopInstanceUid,
    StudyDate: date,
    StudyTime: time,
    AccessionNumber: '',
    Modality: modalityOf(sopClassUid),
    ReferringPhysicianName: '',
    PatientName: patientName,
    PatientID: patientId,
    PatientBirthDate: '',
    PatientSex: 'O',
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: seriesUid,
    StudyID: '1',
    SeriesNumber: 1,
    InstanceNumber: 1,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    ...(frames > 1 ? { NumberOfFrames: frames } : {}),
    Rows: rows,
    Columns: columns,
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    ...options.extra,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OW' },
  };

  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  const buffer = Buffer.from(dict.write());
  return {
    buffer,
    studyUid,
    seriesUid,
    sopInstanceUid,
    sopClassUid,
    transferSyntaxUid,
    patientName,
    patientId,
    pixelBytes: pixels.length,
  };
}

/** Writes `instance` to `dir/<SOP Instance UID>.dcm` and returns that path. */
export async function writeInstance(dir: string, instance: TestInstance): Promise<string> {
  const path = join(dir, `${instance.sopInstanceUid}.dcm`);
  await writeFile(path, instance.buffer);
  return path;
}

// Value representations whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 §7.1.2).
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Byte offset where the data set of a Part-10 file starts: after the 128-byte preamble,
 * `DICM` and every file meta element of group 0002 (always Explicit VR Little Endian,
 * PS3.10 §7.1). Walks the elements rather than trusting (0002,0000). Throws on anything
 * that is not a Part-10 file.
 */
export function metaEnd(file: Uint8Array): number {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < 132 || buf.toString('latin1', 128, 132) !== 'DICM') {
    throw new Error('not a DICOM Part-10 file: no DICM prefix at offset 128');
  }
  let offset = 132;
  while (offset + 4 <= buf.length && buf.readUInt16LE(offset) === 0x0002) {
    if (offset + 8 > buf.length) throw new Error(`file meta element header truncated at offset ${offset}`);
    const vr = buf.toString('latin1', offset + 4, offset + 6);
    let length: number;
    let header: number;
    if (LONG_VRS.has(vr)) {
      if (offset + 12 > buf.length) throw new Error(`file meta element header truncated at offset ${offset}`);
      length = buf.readUInt32LE(offset + 8);
      header = 12;
    } else {
      length = buf.readUInt16LE(offset + 6);
      header = 8;
    }
    if (length === 0xffffffff || offset + header + length > buf.length) {
      throw new Error(`file meta element at offset ${offset} has a bad length ${length}`);
    }
    offset += header + length;
  }
  return offset;
}

/**
 * The bytes of a Part-10 file after its file meta group 0002, i.e. the data set exactly as
 * encoded. A PACS writes its own group 0002, so compare instances with this. Returns a view
 * into `file`, not a copy.
 */
export function datasetAfterMeta(file: Uint8Array): Buffer {
  return Buffer.from(file.buffer, file.byteOffset, file.byteLength).subarray(metaEnd(file));
}

/** The Transfer Syntax UID (0002,0010) of a Part-10 file, without trailing padding. */
export function transferSyntaxOf(file: Uint8Array): string {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const end = metaEnd(buf);
  for (let offset = 132; offset < end; ) {
    const element = buf.readUInt16LE(offset + 2);
    const vr = buf.toString('latin1', offset + 4, offset + 6);
    const long = LONG_VRS.has(vr);
    const length = long ? buf.readUInt32LE(offset + 8) : buf.readUInt16LE(offset + 6);
    const start = offset + (long ? 12 : 8);
    if (element === 0x0010) return buf.toString('latin1', start, start + length).replace(/[\0 ]+$/, '');
    offset = start + length;
  }
  throw new Error('file meta has no Transfer Syntax UID (0002,0010)');
}
