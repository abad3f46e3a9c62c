// dcmjs-dimse (an independent DICOM SCU) as a promise: one association over TLS, optional user identity, collected responses.

import { createRequire } from 'node:module';

type DcmjsDimse = typeof import('dcmjs-dimse');
/** dcmjs-dimse is a CommonJS bundle whose named exports ESM cannot see. */
export const dimse = createRequire(import.meta.url)('dcmjs-dimse') as DcmjsDimse;
(dimse.log as unknown as { setLevel(l: string): void }).setLevel('error');

/** Its event-emitter base class ships without types; the part used here. */
interface Emitter { on(event: string, listener: (...args: any[]) => void): void }
interface DimseResponse { getStatus(): number; getErrorComment(): string; getDataset(): { getElements(): Record<string, unknown> } | undefined }
export type DimseRequest = InstanceType<DcmjsDimse['requests']['Request']>;

export interface ScuResult {
  /** Each response: the position of its request in the list, its status, error comment and dataset (when any). */
  readonly responses: Array<{ request: number; status: number; comment: string | undefined; dataset: Record<string, unknown> | undefined }>;
  /** Data sets received as C-STORE sub-operations (C-GET). */
  readonly stored: Array<Record<string, unknown>>;
  readonly accepted: boolean;
  readonly rejected: { result: number; source: number; reason: number } | undefined;
  readonly errors: string[];
}

export interface ScuOptions {
  readonly host?: string;
  readonly port: number;
  readonly callingAe: string;
  readonly calledAe?: string;
  readonly ca: string;
  readonly cert?: { certPem: string; keyPem: string };
  readonly userIdentity?: { type: number; primaryField: string; secondaryField?: string; positiveResponseRequested?: boolean };
}

/** Sends `requests` on one association and resolves when it is closed. */
export function runScu(requests: DimseRequest[], o: ScuOptions): Promise<ScuResult> {
  const client = new dimse.Client() as InstanceType<DcmjsDimse['Client']> & Emitter;
  const result = { responses: [], stored: [], accepted: false, rejected: undefined, errors: [] } as {
    responses: ScuResult['responses']; stored: ScuResult['stored']; accepted: boolean; rejected: ScuResult['rejected']; errors: string[];
  };
  for (const [index, req] of requests.entries()) {
    (req as DimseRequest & Emitter).on('response', (rsp: DimseResponse) => {
      result.responses.push({ request: index, status: rsp.getStatus(), comment: rsp.getErrorComment() || undefined, dataset: rsp.getDataset()?.getElements() });
    });
    client.addRequest(req);
  }
  client.on('cStoreRequest', (req: InstanceType<DcmjsDimse['requests']['CStoreRequest']> & Pick<DimseResponse, 'getDataset'>, callback: (r: unknown) => void) => {
    result.stored.push(req.getDataset()?.getElements() ?? {});
    const rsp = dimse.responses.CStoreResponse.fromRequest(req);
    rsp.setStatus(dimse.constants.Status.Success);
    callback(rsp);
  });
  return new Promise((resolve) => {
    client.on('associationAccepted', () => { result.accepted = true; });
    client.on('associationRejected', (r: { result: number; source: number; reason: number }) => { result.rejected = r; });
    client.on('networkError', (e: Error) => { result.errors.push(e.message); });
    client.on('closed', () => resolve(result));
    client.send(o.host ?? '127.0.0.1', o.port, o.callingAe, o.calledAe ?? 'GATEWAY', {
      associationTimeout: 15_000, pduTimeout: 30_000,
      securityOptions: { ca: o.ca, ...(o.cert === undefined ? {} : { cert: o.cert.certPem, key: o.cert.keyPem }), minVersion: 'TLSv1.2' },
      ...(o.userIdentity === undefined ? {} : { userIdentity: { positiveResponseRequested: false, secondaryField: '', ...o.userIdentity } }),
    });
  });
}
