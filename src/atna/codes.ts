// Coded values of DICOM audit messages (PS3.15 Annex A.5, PS3.16 DCM code system): EventIDs, event types, roles, ID types.

export interface Code { readonly code: string; readonly system: string; readonly meaning: string }

const dcm = (code: string, meaning: string): Code => Object.freeze({ code, system: 'DCM', meaning });
const rfc3881 = (code: string, meaning: string): Code => Object.freeze({ code, system: 'RFC-3881', meaning });

export const EventId = Object.freeze({
  ApplicationActivity: dcm('110100', 'Application Activity'),
  BeginTransferring: dcm('110102', 'Begin Transferring DICOM Instances'),
  InstancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  InstancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  Query: dcm('110112', 'Query'),
  SecurityAlert: dcm('110113', 'Security Alert'),
  UserAuthentication: dcm('110114', 'User Authentication'),
} as const);

export const EventType = Object.freeze({
  ApplicationStart: dcm('110120', 'Application Start'),
  ApplicationStop: dcm('110121', 'Application Stop'),
  Login: dcm('110122', 'Login'),
  Logout: dcm('110123', 'Logout'),
  NodeAuthentication: dcm('110126', 'Node Authentication'),
  SecurityConfiguration: dcm('110129', 'Security Configuration'),
  SoftwareConfiguration: dcm('110131', 'Software Configuration'),
  UseOfRestrictedFunction: dcm('110132', 'Use of Restricted Function'),
  AuditRecordingStopped: dcm('110133', 'Audit Recording Stopped'),
  UserSecurityAttributesChanged: dcm('110137', 'User Security Attributes Changed'),
} as const);

export const Role = Object.freeze({
  Application: dcm('110150', 'Application'),
  Destination: dcm('110152', 'Destination Role ID'),
  Source: dcm('110153', 'Source Role ID'),
} as const);

export const IdType = Object.freeze({
  PatientNumber: rfc3881('2', 'Patient Number'),
  UserIdentifier: rfc3881('11', 'User Identifier'),
  Uri: rfc3881('12', 'URI'),
  StudyInstanceUid: dcm('110180', 'Study Instance UID'),
  SopClassUid: dcm('110181', 'SOP Class UID'),
  NodeId: dcm('110182', 'Node ID'),
  DeviceName: dcm('113877', 'Device Name'),
} as const);

/** PS3.15 A.5.1: EventOutcomeIndicator. */
export const Outcome = Object.freeze({ Success: '0', MinorFailure: '4', SeriousFailure: '8', MajorFailure: '12' } as const);

/** Study Root Query/Retrieve Information Model – FIND (the SOP class a QIDO-RS search stands for). */
export const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
