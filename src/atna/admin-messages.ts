// The DICOM audit message of an admin command that changes who can get in (`pacs-gateway users …`, `certs …`).
//
// Which message (PS3.15 A.5.3, CID 403 "Security Alert Type"): none of the transaction messages fits a
// change of accounts or certificates, and PS3.15 A.5.3.11 Security Alert (EventID DCM 110113) is the
// message for "any event for which a node needs to report a security alert", including changes of the
// security configuration, with EventTypeCode naming the kind:
//   users add, invite, revoke-invite, disable, enable, set-password, reset-totp, set-ae, end-sessions
//     → User Security Attributes Changed (DCM 110137): a user's credentials, state or allowed AE titles.
//       The Alert Subject is the user: ParticipantObjectTypeCode 1 (person), role 11 (security user
//       entity), ID type RFC-3881 11 (User Identifier).
//   certs init, issue-server, issue-client, renew, revoke
//     → Security Configuration (DCM 110129): the CA, the server certificate and the device certificates
//       and CRL decide which nodes authenticate (Node Authentication, 110126, reports an authentication
//       attempt, not a change of what authenticates). The Alert Subject is each certificate: type 2
//       (system object), role 13 (security resource), ID = the serial number, ID type 99PACSGW
//       X509-SERIAL (a private code: DICOM has none for a certificate serial; "99" marks a private
//       coding scheme); a device refused before it had a serial is named by DCM 113877 Device Name.
// Outcome: 0 (success, "an informative alert") when the change was made, 4 (minor failure: the
// safeguard held) when the command refused it, with the reason. Active participants: the person who ran
// it (the OS user, or "cli" when it has no name; UserIsRequestor) and the CLI process. The command's JSON
// audit event, which never holds a secret, is the ParticipantObjectDetail "Alert Description".

import { EventId, EventType, IdType, Outcome, type Code } from './codes.js';
import { gateway, ipType, render, type AuditSource, type ParticipantObject } from './messages.js';

/** A certificate serial number (hex), as a private code: DICOM defines none. */
export const CERTIFICATE_SERIAL: Code = Object.freeze({ code: 'X509-SERIAL', system: '99PACSGW', meaning: 'X.509 Certificate Serial Number' });

export interface AdminChange {
  /** The CLI command, e.g. "users disable", "certs revoke". */
  readonly command: string;
  /** The OS account that ran it (undefined: "cli"). */
  readonly osUser: string | undefined;
  /** True when the command refused the change (nothing changed). */
  readonly refused: boolean;
  readonly reason: string;
  /** The user it changed (users commands). */
  readonly username?: string | undefined;
  /** The certificates it made or revoked (certs commands), by serial; `device` names a device that has none. */
  readonly serials?: readonly { readonly serial: string; readonly name: string }[] | undefined;
  readonly device?: string | undefined;
  /** The JSON audit event (no secrets), carried as the alert description. */
  readonly detail: Readonly<Record<string, unknown>>;
}

/** PS3.15 A.5.3.11 Security Alert for one admin change (see the head of this file). */
export function adminChangeMessage(src: AuditSource, c: AdminChange, at: number): string {
  const users = c.command.startsWith('users ');
  const description: readonly (readonly [string, string])[] = [['Alert Description', JSON.stringify(c.detail)]];
  const objects: ParticipantObject[] = [];
  if (c.username !== undefined) objects.push({ id: c.username, typeCode: '1', role: '11', idType: IdType.UserIdentifier, name: c.username, details: description });
  for (const s of c.serials ?? []) objects.push({ id: s.serial, typeCode: '2', role: '13', idType: CERTIFICATE_SERIAL, name: s.name, details: description });
  if (objects.length === 0 && c.device !== undefined) objects.push({ id: c.device, typeCode: '2', role: '13', idType: IdType.DeviceName, name: c.device, details: description });
  if (objects.length === 0) objects.push({ id: src.id, typeCode: '2', role: '13', idType: IdType.NodeId, name: c.command, details: description });
  return render(src, {
    eventId: EventId.SecurityAlert, action: 'E', at,
    outcome: c.refused ? Outcome.MinorFailure : Outcome.Success,
    outcomeDescription: `${c.command}: ${c.refused ? 'refused: ' : ''}${c.reason}`,
    types: [users ? EventType.UserSecurityAttributesChanged : EventType.SecurityConfiguration],
    participants: [
      { userId: c.osUser ?? 'cli', userName: 'cli', requestor: true, nap: src.hostname, napType: ipType(src.hostname) },
      { ...gateway(src), userName: `pacs-gateway ${c.command}` },
    ],
    objects,
  });
}
