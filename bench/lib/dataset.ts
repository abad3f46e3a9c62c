// Synthetic instances for the bench: one CT series of ~0.5 MB slices and one big instance in a study of its own.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeInstance, randomUid, writeInstance } from '../../test/helpers/instances.js';

/** PatientID of the series; QIDO-RS and C-FIND match on it, so the big study stays out of the latency tests. */
export const SERIES_PATIENT = 'PGW-BENCH';
export const BIG_PATIENT = 'PGW-BENCH-BIG';

export interface InstanceRef { readonly studyUid: string; readonly seriesUid: string; readonly sopInstanceUid: string }

export interface Dataset {
  /** Directory holding only the series' files (storescu +sd). */
  readonly seriesDir: string;
  readonly seriesCount: number;
  /** Sum of the series' file sizes. */
  readonly seriesBytes: number;
  /** The first instance of the series (the WADO-RS target). */
  readonly first: InstanceRef;
  readonly bigFile: string;
  readonly bigBytes: number;
  readonly big: InstanceRef;
}

/** DICOMweb path of an instance (WADO-RS), relative to the server root. */
export function wadoPath(i: InstanceRef): string {
  return `/dicom-web/studies/${i.studyUid}/series/${i.seriesUid}/instances/${i.sopInstanceUid}`;
}

/** The QIDO-RS study search every HTTP scenario uses. */
export const QIDO_PATH = `/dicom-web/studies?PatientID=${SERIES_PATIENT}`;

/** Generates and writes the dataset under `dir`. */
export async function createDataset(dir: string, o: { count: number; bytes: number; bigBytes: number }): Promise<Dataset> {
  const seriesDir = join(dir, 'series');
  const bigDir = join(dir, 'big');
  mkdirSync(seriesDir, { recursive: true });
  mkdirSync(bigDir, { recursive: true });
  const studyUid = randomUid();
  const seriesUid = randomUid();
  let seriesBytes = 0;
  let first: InstanceRef | undefined;
  for (let i = 0; i < o.count; i++) {
    const inst = makeInstance({
      studyUid, seriesUid, pixelBytes: o.bytes, patientId: SERIES_PATIENT, patientName: 'Bench^Series',
      extra: { InstanceNumber: i + 1, StudyDescription: 'pacs-gateway bench series' },
    });
    await writeInstance(seriesDir, inst);
    seriesBytes += inst.buffer.length;
    first ??= inst;
  }
  if (first === undefined) throw new TypeError('dataset needs at least one instance');
  const bigInst = makeInstance({ pixelBytes: o.bigBytes, patientId: BIG_PATIENT, patientName: 'Bench^Big' });
  const bigFile = await writeInstance(bigDir, bigInst);
  return {
    seriesDir, seriesCount: o.count, seriesBytes, first,
    bigFile, bigBytes: bigInst.buffer.length, big: bigInst,
  };
}
