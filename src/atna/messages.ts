// Builds DICOM audit messages (PS3.15 A.5.3) from the gateway's audit events, outcomes and alerts.
//
// Message per trigger (README "Monitoring and alerts", ATNA):
//   auth.login / DICOM user-identity JWT → User Authentication (Login); auth.logout → (Logout)
//   C-FIND answered, QIDO-RS answered, a refused search → Query
//   C-GET / C-MOVE first pending response → Begin Transferring DICOM Instances
//   C-GET / C-MOVE / C-STORE final response, WADO-RS / WADO-URI / STOW-RS answered → DICOM Instances Transferred
//   WADO-RS metadata, DICOMweb DELETE → DICOM Instances Accessed
//   any alert → Security Alert; gateway start / stop → Application Activity
//   admin CLI commands that change users or certificates → Security Alert (src/atna/admin-messages.ts, sent by the CLI)

import type { AlertName, AuditEvent } from '../audit/audit.js';
import type { DimseOutcome, HttpOutcome } from '../audit/outcome.js';
import { IdentifierTag, topLevelStrings } from '../dicom/dataset-patient-id.js';
import { EventId, EventType, IdType, Outcome, Role, STUDY_ROOT_FIND, type Code } from './codes.js';
import { el, textEl } from './xml.js';

/** Who the gateway is in its messages. */
export interface AuditSource {
  /** AuditSourceID and the gateway's UserID (audit.sourceId, default the host name). */
  readonly id: string;
  readonly enterpriseSiteId?: string | undefined;
  readonly hostname: string;
  readonly pid: number;
  /** The PACS: its AE title and its DICOMweb root, as the other party of queries and transfers. */
  readonly pacsAeTitle: string;
  readonly pacsHost: string;
  readonly pacsDicomweb: string;
}

export interface Participant {
  readonly userId: string;
  readonly alternativeUserId?: string | undefined;
  readonly userName?: string | undefined;
  readonly requestor: boolean;
  readonly role?: Code | undefined;
  readonly nap?: string | undefined;
  /** 1 machine name, 2 IP address, 5 URI. */
  readonly napType?: '1' | '2' | '5' | undefined;
}

export interface ParticipantObject {
  readonly id: string;
  readonly typeCode: '1' | '2' | '3' | '4';
  readonly role?: string | undefined;
  readonly idType: Code;
  readonly name?: string | undefined;
  readonly query?: Buffer | undefined;
  readonly details?: readonly (readonly [string, string])[];
  readonly description?: string | undefined;
}

export interface Message {
  readonly eventId: Code;
  readonly action: 'C' | 'R' | 'U' | 'D' | 'E';
  readonly at: number;
  readonly outcome: string;
  readonly outcomeDescription?: string | undefined;
  readonly types?: readonly Code[];
  readonly participants: readonly Participant[];
  readonly objects?: readonly ParticipantObject[];
}

const coded = (name: string, c: Code): string => el(name, { 'csd-code': c.code, codeSystemName: c.system, originalText: c.meaning });
const b64 = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');
export const ipType = (a: string | undefined): '2' | '1' => (a !== undefined && /^[0-9a-f:.]+$/i.test(a) ? '2' : '1');

export function render(src: AuditSource, m: Message): string {
  const event = el('EventIdentification', {
    EventActionCode: m.action, EventDateTime: new Date(m.at).toISOString(), EventOutcomeIndicator: m.outcome,
  }, [
    coded('EventID', m.eventId),
    ...(m.types ?? []).map((t) => coded('EventTypeCode', t)),
    ...(m.outcomeDescription === undefined ? [] : [textEl('EventOutcomeDescription', m.outcomeDescription)]),
  ]);
  const participants = m.participants.map((p) => el('ActiveParticipant', {
    UserID: p.userId, AlternativeUserID: p.alternativeUserId, UserName: p.userName, UserIsRequestor: p.requestor,
    NetworkAccessPointID: p.nap, NetworkAccessPointTypeCode: p.nap === undefined ? undefined : p.napType,
  }, p.role === undefined ? [] : [coded('RoleIDCode', p.role)]));
  const source = el('AuditSourceIdentification', { AuditEnterpriseSiteID: src.enterpriseSiteId, AuditSourceID: src.id }, [el('AuditSourceTypeCode', { 'csd-code': '4' })]);
  const objects = (m.objects ?? []).map((o) => el('ParticipantObjectIdentification', {
    ParticipantObjectID: o.id, ParticipantObjectTypeCode: o.typeCode, ParticipantObjectTypeCodeRole: o.role,
  }, [
    coded('ParticipantObjectIDTypeCode', o.idType),
    ...(o.name !== undefined ? [textEl('ParticipantObjectName', o.name)] : o.query !== undefined ? [textEl('ParticipantObjectQuery', o.query.toString('base64'))] : []),
    ...(o.details ?? []).map(([type, value]) => el('ParticipantObjectDetail', { type, value: b64(value) })),
    ...(o.description === undefined ? [] : [o.description]),
  ]));
  return `<?xml version="1.0" encoding="UTF-8"?>${el('AuditMessage', {}, [event, ...participants, source, ...objects])}`;
}

/** The gateway itself as a participant. */
export function gateway(src: AuditSource, role?: Code): Participant {
  return { userId: src.id, alternativeUserId: String(src.pid), userName: 'pacs-gateway', requestor: false, role, nap: src.hostname, napType: ipType(src.hostname) };
}

/** The PACS as the other party (its DICOM AE, or its DICOMweb root). */
function pacs(src: AuditSource, channel: 'dicom' | 'http', role: Code): Participant {
  return channel === 'dicom'
    ? { userId: src.pacsAeTitle, alternativeUserId: `AETITLES=${src.pacsAeTitle}`, requestor: false, role, nap: src.pacsHost, napType: ipType(src.pacsHost) }
    : { userId: src.pacsDicomweb, requestor: false, role, nap: src.pacsHost, napType: ipType(src.pacsHost) };
}

function requestor(p: { principal?: string | undefined; source?: string | undefined; callingAe?: string | undefined }, role?: Code): Participant {
  return {
    userId: p.principal ?? p.source ?? 'unknown', alternativeUserId: p.callingAe === undefined ? undefined : `AETITLES=${p.callingAe}`,
    requestor: true, role, nap: p.source, napType: ipType(p.source),
  };
}

function studyAndPatient(studyUid: string | undefined, patientId: string | undefined, patientName: string | undefined): ParticipantObject[] {
  const out: ParticipantObject[] = [];
  if (studyUid !== undefined) {
    out.push({ id: studyUid, typeCode: '2', role: '3', idType: IdType.StudyInstanceUid, description: el('ParticipantObjectDescription', {}, [el('ParticipantObjectContainsStudy', {}, [el('StudyIDs', { UID: studyUid })])]) });
  }
  if (patientId !== undefined) out.push({ id: patientId, typeCode: '1', role: '1', idType: IdType.PatientNumber, name: patientName ?? patientId });
  return out;
}

/** User Authentication for a login, a logout or a DICOM user-identity token. */
export function userAuthentication(src: AuditSource, e: AuditEvent, at: number): string | undefined {
  const login = e.event === 'auth.login' || (e.event === 'auth.token' && e.method === 'dicom-user-jwt');
  if (!login && e.event !== 'auth.logout') return undefined;
  return render(src, {
    eventId: EventId.UserAuthentication, action: 'E', at, types: [login ? EventType.Login : EventType.Logout],
    outcome: e.decision === 'allow' ? Outcome.Success : Outcome.MinorFailure,
    outcomeDescription: e.decision === 'allow' ? undefined : e.reason,
    participants: [requestor({ principal: e.principal, source: e.source }), gateway(src)],
  });
}

/** A refused search (C-FIND or QIDO-RS): a Query that failed. */
export function refusedQuery(src: AuditSource, e: AuditEvent, at: number): string | undefined {
  if (e.decision !== 'deny' || e.action !== 'search' || (e.event !== 'dicom.command' && e.event !== 'authz.http')) return undefined;
  const dimse = e.event === 'dicom.command';
  return render(src, {
    eventId: EventId.Query, action: 'E', at, outcome: Outcome.MinorFailure, outcomeDescription: `refused by the gateway: ${e.reason}`,
    participants: [requestor({ principal: e.principal, source: e.source, callingAe: e['callingAe'] as string | undefined }, Role.Source), pacs(src, dimse ? 'dicom' : 'http', Role.Destination)],
    objects: [{
      id: dimse ? String(e['sopClassUid'] ?? STUDY_ROOT_FIND) : STUDY_ROOT_FIND, typeCode: '2', role: '3', idType: IdType.SopClassUid,
      query: Buffer.from(dimse ? '' : String(e['path'] ?? ''), 'utf8'),
    }],
  });
}

/**
 * The outbound relay's export (a relay.transfer event): DICOM Instances Transferred (PS3.15
 * A.5.3.5), R, from the PACS (source) to the remote AE (destination), with the principal whose
 * C-MOVE caused it as the requestor when the relay matched it; the instances per SOP class.
 */
export function relayExport(src: AuditSource, e: AuditEvent, at: number): string | undefined {
  if (e.event !== 'relay.transfer') return undefined;
  const failed = Number(e['failed'] ?? 0) + Number(e['unanswered'] ?? 0);
  const move = e['move'] as { principal?: string; source?: string; callingAe?: string } | undefined;
  const destinationAe = String(e['destinationAe']);
  const callingAe = String(e['callingAe'] ?? src.pacsAeTitle);
  const sopClasses = Object.entries((e['sopClasses'] ?? {}) as Record<string, string[]>);
  return render(src, {
    eventId: EventId.InstancesTransferred, action: 'R', at,
    outcome: failed === 0 ? Outcome.Success : Outcome.MinorFailure,
    outcomeDescription: failed === 0 ? undefined : `${failed} of ${String(e['sent'])} instances not stored by ${destinationAe}`,
    participants: [
      { userId: callingAe, alternativeUserId: `AETITLES=${callingAe}`, requestor: false, role: Role.Source, nap: e.source, napType: ipType(e.source) },
      { userId: destinationAe, alternativeUserId: `AETITLES=${destinationAe}`, requestor: false, role: Role.Destination, nap: String(e['destinationHost']), napType: ipType(String(e['destinationHost'])) },
      ...(move?.principal === undefined ? [] : [requestor({ principal: move.principal, source: move.source, callingAe: move.callingAe })]),
    ],
    objects: sopClasses.map(([uid, instances]) => ({
      id: uid, typeCode: '2' as const, role: '3', idType: IdType.SopClassUid,
      description: el('ParticipantObjectDescription', {}, [el('SOPClass', { UID: uid, NumberOfInstances: String(instances.length) }, instances.map((i) => el('Instance', { UID: i })))]),
    })),
  });
}

function statusOutcome(status: number): string {
  // PS3.7 Annex C: 0x0000 success, 0xB000-0xBFFF warning, 0xFE00 cancel; anything else a failure.
  if (status === 0 || (status >= 0xb000 && status <= 0xbfff) || status === 0xfe00) return Outcome.Success;
  return Outcome.MinorFailure;
}

/** The DIMSE messages of one outcome report. */
export function dimseMessages(src: AuditSource, o: DimseOutcome, at: number): string[] {
  const tags = Object.values(IdentifierTag);
  const ids = o.query === undefined ? new Map<number, string>() : topLevelStrings(o.query, tags);
  // A C-GET identifier often names the study only: the first instance sent back names the patient.
  if (o.firstInstance !== undefined) for (const [k, v] of topLevelStrings(o.firstInstance, tags)) if (!ids.has(k)) ids.set(k, v);
  const who = requestor(o, Role.Destination);
  const patientId = ids.get(IdentifierTag.PatientId);
  const objects = studyAndPatient(ids.get(IdentifierTag.StudyInstanceUid), patientId, ids.get(IdentifierTag.PatientName));
  const outcome = statusOutcome(o.status);
  const failed = outcome === Outcome.Success ? undefined : `DIMSE status 0x${o.status.toString(16).padStart(4, '0')}`;
  if (o.command === 'C-FIND') {
    return [render(src, {
      eventId: EventId.Query, action: 'E', at, outcome, outcomeDescription: failed,
      participants: [requestor(o, Role.Source), pacs(src, 'dicom', Role.Destination)],
      objects: [{ id: o.sopClassUid ?? STUDY_ROOT_FIND, typeCode: '2', role: '3', idType: IdType.SopClassUid, query: o.query ?? Buffer.alloc(0) }],
    })];
  }
  if ((o.command === 'C-GET' || o.command === 'C-MOVE') && (o.status === 0xff00 || o.status === 0xff01)) {
    return [render(src, {
      eventId: EventId.BeginTransferring, action: 'E', at, outcome: Outcome.Success,
      participants: [pacs(src, 'dicom', Role.Source), who],
      objects,
    })];
  }
  if (o.command === 'C-GET' || o.command === 'C-MOVE' || o.command === 'C-STORE') {
    const store = o.command === 'C-STORE';
    return [render(src, {
      eventId: EventId.InstancesTransferred, action: store ? 'C' : 'R', at, outcome, outcomeDescription: failed,
      // C-STORE: the client sends, the PACS receives; C-GET / C-MOVE: the PACS sends.
      participants: store ? [requestor(o, Role.Source), pacs(src, 'dicom', Role.Destination)] : [pacs(src, 'dicom', Role.Source), who],
      // C-STORE data sets stream through unread: the study is not known here (the PACS's own audit names it).
      objects: store ? [] : objects,
    })];
  }
  return [];
}

/** The DICOMweb message of one outcome report (none for a search that failed upstream without an answer? still a Query). */
export function httpMessage(src: AuditSource, o: HttpOutcome, at: number): string | undefined {
  const outcome = o.status >= 200 && o.status < 300 && o.complete ? Outcome.Success : Outcome.MinorFailure;
  const failed = outcome === Outcome.Success ? undefined : `HTTP status ${o.status}${o.complete ? '' : ', response incomplete'}`;
  const client = requestor(o, o.service === 'stow-rs' ? Role.Source : Role.Destination);
  const objects = studyAndPatient(o.studyUid, undefined, undefined);
  switch (o.service) {
    case 'qido-rs':
      return render(src, {
        eventId: EventId.Query, action: 'E', at, outcome, outcomeDescription: failed,
        participants: [requestor(o, Role.Source), pacs(src, 'http', Role.Destination)],
        objects: [{ id: STUDY_ROOT_FIND, typeCode: '2', role: '3', idType: IdType.SopClassUid, query: Buffer.from(o.path, 'utf8'), details: [['QueryEncoding', 'UTF-8']] }],
      });
    case 'delete':
      return render(src, { eventId: EventId.InstancesAccessed, action: 'D', at, outcome, outcomeDescription: failed, participants: [client, pacs(src, 'http', Role.Source)], objects });
    case 'stow-rs':
      return render(src, { eventId: EventId.InstancesTransferred, action: 'C', at, outcome, outcomeDescription: failed, participants: [client, pacs(src, 'http', Role.Destination)], objects });
    default:
      if (/\/metadata(\?|$)/.test(o.path)) {
        return render(src, { eventId: EventId.InstancesAccessed, action: 'R', at, outcome, outcomeDescription: failed, participants: [client, pacs(src, 'http', Role.Source)], objects });
      }
      return render(src, { eventId: EventId.InstancesTransferred, action: 'R', at, outcome, outcomeDescription: failed, participants: [pacs(src, 'http', Role.Source), client], objects });
  }
}

/** PS3.15 A.5.3.11 event type for an alert. */
function alertType(name: AlertName, detail: Readonly<Record<string, unknown>>): Code {
  switch (name) {
    case 'cert.revoked-presented': case 'cert.expired-presented': case 'dicom.protocol-violation':
      return EventType.NodeAuthentication;
    case 'reload.refused': case 'cert.expiring': case 'dev-certificates':
      return EventType.SecurityConfiguration;
    case 'store.unavailable': case 'store.recovered':
      return EventType.SoftwareConfiguration;
    case 'sink.dropping':
      return detail['sink'] === 'syslog' ? EventType.AuditRecordingStopped : EventType.SoftwareConfiguration;
    default:
      return EventType.UseOfRestrictedFunction;
  }
}

/** A Security Alert for any alert the gateway raises (anomaly rules, lockouts, certificates, store, sinks). */
export function securityAlert(src: AuditSource, name: AlertName, detail: Readonly<Record<string, unknown>>, at: number): string {
  const rule = name === 'anomaly' && typeof detail['rule'] === 'string' ? detail['rule'] : name;
  const principal = typeof detail['principal'] === 'string' ? detail['principal'] : typeof detail['username'] === 'string' ? detail['username'] : undefined;
  const source = typeof detail['source'] === 'string' ? detail['source'] : undefined;
  const subject = typeof detail['subject'] === 'string' ? detail['subject'] : principal ?? source ?? src.id;
  const message = typeof detail['message'] === 'string' ? detail['message'] : rule;
  return render(src, {
    eventId: EventId.SecurityAlert, action: 'E', at, outcome: Outcome.MinorFailure, outcomeDescription: `${rule}: ${message}`,
    types: [alertType(name, detail)],
    participants: [gateway(src), ...(principal === undefined && source === undefined ? [] : [requestor({ principal, source })])],
    objects: [{
      id: subject, typeCode: '2', role: principal === undefined ? undefined : '11', idType: principal === undefined && source !== undefined ? IdType.NodeId : IdType.UserIdentifier,
      name: rule, details: [['Alert Description', JSON.stringify({ name, ...detail })]],
    }],
  });
}

/** Application Activity: the gateway started or is stopping. */
export function applicationActivity(src: AuditSource, started: boolean, at: number): string {
  return render(src, {
    eventId: EventId.ApplicationActivity, action: 'E', at, outcome: Outcome.Success,
    types: [started ? EventType.ApplicationStart : EventType.ApplicationStop],
    participants: [gateway(src, Role.Application)],
  });
}
