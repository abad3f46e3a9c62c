// An in-process DICOM client over TLS (the kind of association client a user's script or a modality runs):
// many concurrent associations storing instances, each C-STORE timed from its request to its response.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawAssociation } from '../../test/helpers/raw-association.js';
import { datasetAfterMeta, SopClass, transferSyntaxOf } from '../../test/helpers/instances.js';
import { CommandField, CommandTag } from '../../src/dicom/constants.js';
import type { UserIdentityRq } from '../../src/dicom/user-identity.js';
import { CALLING_AE } from './identities.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
/** Command Data Set Type: a data set follows (PS3.7 §E.1: anything but 0x0101). */
const DATA_SET_FOLLOWS = 0x0000;

/** One instance ready to send: its data set (no file meta), SOP Instance UID and transfer syntax. */
export interface StoreItem { readonly sopInstanceUid: string; readonly transferSyntax: string; readonly dataset: Buffer }

/** Reads every `<SOP Instance UID>.dcm` of `dir` (bench/lib/dataset.ts writes them so). */
export function loadStoreItems(dir: string): StoreItem[] {
  return readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => {
    const file = readFileSync(join(dir, f));
    return { sopInstanceUid: f.slice(0, -'.dcm'.length), transferSyntax: transferSyntaxOf(file), dataset: datasetAfterMeta(file) };
  });
}

export interface ClientTls {
  readonly port: number;
  readonly calledAe: string;
  readonly ca: string;
  /** Device key and certificate (mTLS); absent with a user identity. */
  readonly key?: string;
  readonly cert?: string;
  readonly userIdentity?: UserIdentityRq;
}

/** Opens one association for CT Image Storage in `transferSyntax`. */
function openStore(o: ClientTls, transferSyntax: string): Promise<RawAssociation> {
  return RawAssociation.open({
    port: o.port, calledAe: o.calledAe, ca: o.ca, callingAe: CALLING_AE,
    ...(o.key === undefined ? {} : { key: o.key, cert: o.cert }),
    ...(o.userIdentity === undefined ? {} : { userIdentity: o.userIdentity }),
    contexts: [{ id: 1, abstractSyntax: SopClass.ctImage, transferSyntaxes: [transferSyntax] }],
  });
}

/** Stores `item` on an open association; resolves with the milliseconds from request to response. */
async function storeOne(a: RawAssociation, item: StoreItem, messageId: number): Promise<number> {
  const t0 = performance.now();
  a.sendCommand(1, [
    [CommandTag.AffectedSopClassUid, { ui: SopClass.ctImage }], [CommandTag.CommandField, { us: CommandField.CStoreRq }],
    [CommandTag.MessageId, { us: messageId }], [CommandTag.Priority, { us: 0 }],
    [CommandTag.CommandDataSetType, { us: DATA_SET_FOLLOWS }], [CommandTag.AffectedSopInstanceUid, { ui: item.sopInstanceUid }],
  ]);
  a.sendData(1, item.dataset, true);
  const rsp = await a.readCommand(120_000);
  if (rsp.status !== 0) throw new Error(`C-STORE of ${item.sopInstanceUid}: status 0x${(rsp.status ?? -1).toString(16)}`);
  return performance.now() - t0;
}

export interface ConcurrentStoreResult {
  /** Seconds from the first C-STORE to the last response (the associations are open before the clock starts). */
  readonly seconds: number;
  /** Seconds to open every association (TLS + A-ASSOCIATE, all at once). */
  readonly openSeconds: number;
  readonly bytes: number;
  readonly instances: number;
  /** Every C-STORE's request-to-response time. */
  readonly latenciesMs: number[];
}

/**
 * `associations` associations at once, each storing `perAssociation` instances one after the other
 * (association i starts at item i·perAssociation, wrapping round the list), then releasing.
 * `identity(i)` gives association i its TLS identity.
 */
export async function storeConcurrently(items: readonly StoreItem[], associations: number, perAssociation: number, identity: (i: number) => ClientTls | Promise<ClientTls>): Promise<ConcurrentStoreResult> {
  const first = items[0];
  if (first === undefined) throw new Error('no instances to store');
  const t0 = performance.now();
  const opened = await Promise.allSettled(Array.from({ length: associations }, async (_, i) => openStore(await identity(i), first.transferSyntax)));
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const open = opened.filter((r): r is PromiseFulfilledResult<RawAssociation> => r.status === 'fulfilled').map((r) => r.value);
  if (failed !== undefined) {
    for (const a of open) a.destroy();
    throw new Error(`${associations - open.length} of ${associations} associations failed to open: ${(failed.reason as Error).message}`, { cause: failed.reason });
  }
  const openSeconds = (performance.now() - t0) / 1000;
  const latenciesMs: number[] = [];
  let bytes = 0;
  const t1 = performance.now();
  try {
    await Promise.all(open.map(async (a, i) => {
      let step = 'C-STORE 1';
      try {
        for (let k = 0; k < perAssociation; k++) {
          step = `C-STORE ${k + 1} of ${perAssociation}`;
          const item = items[(i * perAssociation + k) % items.length] as StoreItem;
          latenciesMs.push(await storeOne(a, item, k + 1));
          bytes += item.dataset.length;
        }
        step = 'A-RELEASE';
        // As long as a C-STORE may take: under load Orthanc can be slow to answer the release too.
        await a.release(120_000);
      } catch (err) {
        throw new Error(`association ${i + 1} of ${associations}, ${step}: ${(err as Error).message}`, { cause: err });
      }
    }));
  } finally {
    for (const a of open) a.destroy();
  }
  const seconds = (performance.now() - t1) / 1000;
  return { seconds, openSeconds, bytes, instances: latenciesMs.length, latenciesMs };
}

/** One association after the other: TLS, A-ASSOCIATE, C-ECHO, A-RELEASE; resolves with the seconds for all `n`. */
export async function echoAssociations(o: ClientTls, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = await RawAssociation.open({
      port: o.port, calledAe: o.calledAe, ca: o.ca, callingAe: CALLING_AE,
      ...(o.key === undefined ? {} : { key: o.key, cert: o.cert }),
      contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    });
    try {
      const status = await a.echo(1, 1);
      if (status !== 0) throw new Error(`C-ECHO status ${String(status)}`);
      await a.release();
    } finally {
      a.destroy();
    }
  }
  return (performance.now() - t0) / 1000;
}

/** The p-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] as number;
}
