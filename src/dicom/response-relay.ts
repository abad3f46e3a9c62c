// PACS → client P-DATA relay: passes bytes on unchanged and tracks message boundaries for injected responses.

import { performance } from 'node:perf_hooks';
import { AbortReason, CommandField, NO_DATA_SET, RESPONSE_BIT } from './constants.js';
import { commandName, decodeCommandSet, type CommandSet } from './command-set.js';
import { patientIdOf } from './dataset-patient-id.js';
import { PduError } from './pdu-error.js';
import type { PdvHeader } from './pdu-reader.js';
import { MAX_OUTCOME_PATIENTS } from '../audit/outcome.js';
import { traffic } from '../audit/traffic.js';

/** A request's final response, as the relay saw it (see DimseOutcome). */
export interface RelayedResult {
  readonly command: string;
  readonly messageId: number;
  readonly status: number;
  readonly sopClassUid: string | undefined;
  readonly seconds: number | undefined;
  readonly results?: number;
  readonly patientIds?: readonly string[];
  readonly unidentified?: number;
  readonly query?: Buffer;
  /** C-GET: the first sub-operation's data set, its first 64 KB (Patient ID, name and study for the audit export). */
  readonly firstInstance?: Buffer;
  readonly completed?: number;
  readonly failed?: number;
  readonly warning?: number;
}

/** PS3.7 Annex C: Pending statuses (a response that is not the last). */
const PENDING = new Set([0xff00, 0xff01]);
/** Requests tracked at once per association (a client that never gets answers cannot grow it further). */
const MAX_TRACKED = 1024;
/** Largest C-FIND match data set read for its Patient ID. */
const MAX_MATCH_BYTES = 64 * 1024;
/** (0000,1021) Number of Completed / (0000,1022) Failed / (0000,1023) Warning Sub-operations, PS3.7 §E.1. */
const SUB_OPS = { completed: 0x1021, failed: 0x1022, warning: 0x1023 } as const;

interface Tracked {
  readonly command: string;
  readonly sopClassUid: string | undefined;
  readonly sentAt: number | undefined;
  query: Buffer | undefined;
  results: number;
  patients: Set<string> | undefined;
  /** Matches without a readable Patient ID (the rules count each as a patient of its own). */
  unidentified: number;
  /** C-GET / C-MOVE: the first pending response was reported. */
  begun?: boolean;
  /** C-GET: the start of the first C-STORE sub-operation's data set (see RelayedResult.firstInstance). */
  firstInstance?: Buffer;
}

function u16(cmd: CommandSet, element: number): number | undefined {
  const v = cmd.elements.get(element);
  return v?.length === 2 ? v.readUInt16LE(0) : undefined;
}

/**
 * Handles the P-DATA events of the PACS-side PDU reader. Every byte is forwarded as received
 * (headers and fragment slices, zero-copy) into `toClient`. It also reads the PACS's command sets
 * (small; capped) just far enough to know whether a data set follows, so that `atMessageBoundary`
 * says when the gateway may insert its own response PDU without splitting a PACS message.
 *
 * With a `report` callback it also reports each request's final response (status, C-FIND match
 * count and Patient IDs, C-GET/C-MOVE sub-operation counts): the request filter tells it what was
 * forwarded (see forwarded()), and the Patient ID is read from each pending C-FIND response's
 * data set (copied, at most 64 KB).
 */
export class ResponseRelay {
  readonly toClient: Buffer[] = [];
  readonly #maxCommandBytes: number;
  readonly #report: ((r: RelayedResult) => void) | undefined;
  readonly #tracked = new Map<number, Tracked>();
  #command: Buffer[] | undefined;
  #commandSize = 0;
  #collecting = false;
  #dataExpected = false;
  #inPdu = false;
  /** The pending C-FIND response whose data set (a match) is being read, or the first C-GET sub-operation's (`instance`). */
  #match: { tracked: Tracked; chunks: Buffer[]; size: number; instance?: true } | undefined;
  #inData = false;

  constructor(maxCommandBytes: number, report?: (r: RelayedResult) => void) {
    this.#maxCommandBytes = maxCommandBytes;
    this.#report = report;
  }

  /** Whether results are reported (the request filter tells forwarded requests only then). */
  get reporting(): boolean { return this.#report !== undefined; }

  /** Between PDUs and between messages. */
  get atMessageBoundary(): boolean { return !this.#inPdu && this.#command === undefined && !this.#dataExpected; }

  /** The request filter forwarded this request to the PACS (called only when reporting). */
  forwarded(cmd: CommandSet): void {
    const id = cmd.messageId;
    if (id === undefined) return;
    if (this.#tracked.size >= MAX_TRACKED) {
      const oldest = this.#tracked.keys().next();
      if (oldest.done !== true) this.#tracked.delete(oldest.value);
    }
    this.#tracked.set(id, {
      command: commandName(cmd.commandField).replace(/-RQ$/, ''), sopClassUid: cmd.affectedSopClassUid ?? cmd.requestedSopClassUid,
      sentAt: performance.now(), query: undefined, results: 0, patients: undefined, unidentified: 0,
    });
  }

  /** The identifier (query) of a forwarded C-FIND request, as the client sent it. */
  identifier(messageId: number, query: Buffer): void {
    const t = this.#tracked.get(messageId);
    if (t !== undefined) t.query = query;
  }

  onPDataStart(_length: number, raw: Buffer): void {
    this.#inPdu = true;
    this.toClient.push(raw);
  }

  onPDataEnd(): void { this.#inPdu = false; }

  onPdv(h: PdvHeader, raw: Buffer): void {
    this.toClient.push(raw);
    this.#collecting = h.isCommand;
    this.#inData = !h.isCommand;
    if (!h.isCommand) return;
    if (this.#dataExpected) throw new PduError('the PACS sent a command before its previous data set ended', AbortReason.UnexpectedPduParameter);
    this.#command ??= [];
    if (this.#commandSize + h.fragmentLength > this.#maxCommandBytes) throw new PduError('the PACS sent a command set larger than the limit');
  }

  onFragment(data: Buffer): void {
    this.toClient.push(data);
    traffic.dicomToClient += data.length;
    if (this.#collecting && this.#command !== undefined) {
      this.#command.push(Buffer.from(data));
      this.#commandSize += data.length;
    } else if (this.#inData && this.#match !== undefined) {
      const m = this.#match;
      if (m.size + data.length <= MAX_MATCH_BYTES) m.chunks.push(Buffer.from(data));
      else if (m.instance === true && m.size < MAX_MATCH_BYTES) m.chunks.push(Buffer.from(data.subarray(0, MAX_MATCH_BYTES - m.size)));
      m.size += data.length;
    }
  }

  onPdvEnd(h: PdvHeader): void {
    this.#collecting = false;
    this.#inData = false;
    if (!h.isLast) return;
    if (!h.isCommand) {
      this.#dataExpected = false;
      if (this.#match !== undefined) this.#matchEnded(this.#match);
      return;
    }
    const cmd = decodeCommandSet(Buffer.concat(this.#command ?? [], this.#commandSize));
    this.#command = undefined;
    this.#commandSize = 0;
    this.#dataExpected = cmd.dataSetType !== NO_DATA_SET;
    if (this.#report === undefined) return;
    if (cmd.isResponse) this.#response(cmd);
    else if (cmd.commandField === CommandField.CStoreRq && this.#dataExpected) this.#subOperation();
  }

  /** A C-STORE sub-operation of a C-GET: the first one's data set names the patient and study. */
  #subOperation(): void {
    for (const t of this.#tracked.values()) {
      if (t.command !== 'C-GET' || t.firstInstance !== undefined) continue;
      t.firstInstance = Buffer.alloc(0);
      this.#match = { tracked: t, chunks: [], size: 0, instance: true };
      return;
    }
  }

  #response(cmd: CommandSet): void {
    const id = cmd.messageIdBeingRespondedTo;
    if (id === undefined) return;
    const status = cmd.status ?? 0;
    const request = cmd.commandField & ~RESPONSE_BIT;
    let t = this.#tracked.get(id);
    if (PENDING.has(status)) {
      if (request === CommandField.CGetRq || request === CommandField.CMoveRq) {
        // The first pending response: the transfer has begun (ATNA Begin Transferring DICOM Instances).
        if (t !== undefined && !t.begun) {
          t.begun = true;
          (this.#report as (r: RelayedResult) => void)({ command: t.command, messageId: id, status, sopClassUid: t.sopClassUid, seconds: undefined, ...(t.query === undefined ? {} : { query: t.query }) });
        }
        return;
      }
      if (request !== CommandField.CFindRq) return;
      if (t === undefined) {
        t = { command: 'C-FIND', sopClassUid: cmd.affectedSopClassUid, sentAt: undefined, query: undefined, results: 0, patients: undefined, unidentified: 0 };
        this.#tracked.set(id, t);
      }
      t.results++;
      if (this.#dataExpected) this.#match = { tracked: t, chunks: [], size: 0 };
      else t.unidentified++;
      return;
    }
    this.#tracked.delete(id);
    const seconds = t?.sentAt === undefined ? undefined : (performance.now() - t.sentAt) / 1000;
    const base = { command: t?.command ?? commandName(request), messageId: id, status, sopClassUid: t?.sopClassUid ?? cmd.affectedSopClassUid, seconds };
    if (request === CommandField.CFindRq) {
      (this.#report as (r: RelayedResult) => void)({ ...base, results: t?.results ?? 0, patientIds: t?.patients === undefined ? [] : [...t.patients], unidentified: t?.unidentified ?? 0, ...(t?.query === undefined ? {} : { query: t.query }) });
    } else if (request === CommandField.CGetRq || request === CommandField.CMoveRq) {
      (this.#report as (r: RelayedResult) => void)({
        ...base, ...(t?.query === undefined ? {} : { query: t.query }),
        ...(t?.firstInstance === undefined || t.firstInstance.length === 0 ? {} : { firstInstance: t.firstInstance }), completed: u16(cmd, SUB_OPS.completed) ?? 0, failed: u16(cmd, SUB_OPS.failed) ?? 0, warning: u16(cmd, SUB_OPS.warning) ?? 0,
      });
    } else {
      (this.#report as (r: RelayedResult) => void)(base);
    }
  }

  #matchEnded(m: { tracked: Tracked; chunks: Buffer[]; size: number; instance?: true }): void {
    this.#match = undefined;
    if (m.instance === true) {
      m.tracked.firstInstance = Buffer.concat(m.chunks);
      return;
    }
    const id = m.size > MAX_MATCH_BYTES ? undefined : patientIdOf(m.chunks.length === 1 ? m.chunks[0] as Buffer : Buffer.concat(m.chunks, m.size));
    if (id === undefined) { m.tracked.unidentified++; return; }
    const set = m.tracked.patients ??= new Set();
    if (set.size < MAX_OUTCOME_PATIENTS) set.add(id);
  }
}
