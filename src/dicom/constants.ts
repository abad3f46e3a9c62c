// DICOM upper layer (PS3.8) and DIMSE (PS3.7) constants the guard reads and writes, as frozen tables.

/** PDU types, PS3.8 §9.3.1 Table 9-11. */
export const PduType = Object.freeze({
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PData: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const);
export type PduTypeValue = (typeof PduType)[keyof typeof PduType];

/** Human names for logs. */
export const PDU_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x01: 'A-ASSOCIATE-RQ', 0x02: 'A-ASSOCIATE-AC', 0x03: 'A-ASSOCIATE-RJ', 0x04: 'P-DATA-TF',
  0x05: 'A-RELEASE-RQ', 0x06: 'A-RELEASE-RP', 0x07: 'A-ABORT',
});

/** Size of every PDU header: type (1), reserved (1), length (4, big-endian). PS3.8 §9.3.1. */
export const PDU_HEADER_BYTES = 6;
/** Size of a PDV item header: item length (4), presentation context ID (1), message control header (1). PS3.8 §9.3.5.1. */
export const PDV_HEADER_BYTES = 6;
/** A-ASSOCIATE-RQ/AC fixed fields after the PDU header: version, reserved, called AE, calling AE, reserved (32). PS3.8 §9.3.2. */
export const ASSOCIATE_FIXED_BYTES = 68;
/** Length field of A-ASSOCIATE-RJ, A-RELEASE-RQ/RP and A-ABORT: always 4. PS3.8 §9.3.4, §9.3.6–9.3.8. */
export const FIXED_PDU_LENGTH = 4;

/** Items and sub-items of A-ASSOCIATE-RQ/AC, PS3.8 §9.3.2–9.3.3 and PS3.7 Annex D.3.3. */
export const ItemType = Object.freeze({
  ApplicationContext: 0x10,
  PresentationContextRq: 0x20,
  PresentationContextAc: 0x21,
  AbstractSyntax: 0x30,
  TransferSyntax: 0x40,
  UserInformation: 0x50,
  MaxLength: 0x51,
  ImplementationClassUid: 0x52,
  AsyncOperationsWindow: 0x53,
  RoleSelection: 0x54,
  ImplementationVersionName: 0x55,
  SopClassExtendedNegotiation: 0x56,
  SopClassCommonExtendedNegotiation: 0x57,
  UserIdentityRq: 0x58,
  UserIdentityAc: 0x59,
} as const);

/** The only application context name DICOM defines. PS3.7 Annex A.2.1. */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** User-Identity-Type values, PS3.7 Table D.3-14. */
export const UserIdentityType = Object.freeze({
  Username: 1,
  UsernameAndPasscode: 2,
  Kerberos: 3,
  Saml: 4,
  Jwt: 5,
} as const);

/** Presentation context result in A-ASSOCIATE-AC, PS3.8 Table 9-18. */
export const PresentationResult = Object.freeze({
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const);

/** A-ASSOCIATE-RJ Result field, PS3.8 §9.3.4 Table 9-21. */
export const RejectResult = Object.freeze({ Permanent: 1, Transient: 2 } as const);

/** A-ASSOCIATE-RJ Source field, PS3.8 §9.3.4 Table 9-21. */
export const RejectSource = Object.freeze({
  ServiceUser: 1,
  ServiceProviderAcse: 2,
  ServiceProviderPresentation: 3,
} as const);

/** A-ASSOCIATE-RJ Reason/Diag. field; which values are valid depends on the source. PS3.8 §9.3.4. */
export const RejectReason = Object.freeze({
  /** source 1 (service-user) */
  UserNoReasonGiven: 1,
  UserApplicationContextNotSupported: 2,
  UserCallingAeNotRecognized: 3,
  UserCalledAeNotRecognized: 7,
  /** source 2 (service-provider, ACSE) */
  AcseNoReasonGiven: 1,
  AcseProtocolVersionNotSupported: 2,
  /** source 3 (service-provider, presentation) */
  PresentationTemporaryCongestion: 1,
  PresentationLocalLimitExceeded: 2,
} as const);

/** A-ABORT Source field, PS3.8 §9.3.8 Table 9-26. */
export const AbortSource = Object.freeze({ ServiceUser: 0, ServiceProvider: 2 } as const);

/** A-ABORT Reason/Diag. field (significant when the source is the service-provider), PS3.8 §9.3.8 Table 9-26. */
export const AbortReason = Object.freeze({
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const);
export type AbortReasonValue = (typeof AbortReason)[keyof typeof AbortReason];

/** Message control header bits of a PDV, PS3.8 Annex E.2. */
export const MessageControl = Object.freeze({ Command: 0x01, Last: 0x02 } as const);

/** Command Field (0000,0100) values, PS3.7 Annex E. Responses set bit 0x8000. */
export const CommandField = Object.freeze({
  CStoreRq: 0x0001,
  CGetRq: 0x0010,
  CFindRq: 0x0020,
  CMoveRq: 0x0021,
  CEchoRq: 0x0030,
  NEventReportRq: 0x0100,
  NGetRq: 0x0110,
  NSetRq: 0x0120,
  NActionRq: 0x0130,
  NCreateRq: 0x0140,
  NDeleteRq: 0x0150,
  CCancelRq: 0x0fff,
} as const);

/** Bit that marks a response command. PS3.7 Annex E. */
export const RESPONSE_BIT = 0x8000;

/** Names of request commands (responses are the same name with -RSP). */
export const COMMAND_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x0001: 'C-STORE', 0x0010: 'C-GET', 0x0020: 'C-FIND', 0x0021: 'C-MOVE', 0x0030: 'C-ECHO',
  0x0100: 'N-EVENT-REPORT', 0x0110: 'N-GET', 0x0120: 'N-SET', 0x0130: 'N-ACTION',
  0x0140: 'N-CREATE', 0x0150: 'N-DELETE', 0x0fff: 'C-CANCEL',
});

/** Element numbers of group 0000 the guard reads or writes, PS3.7 Annex E.1. */
export const CommandTag = Object.freeze({
  CommandGroupLength: 0x0000,
  AffectedSopClassUid: 0x0002,
  RequestedSopClassUid: 0x0003,
  CommandField: 0x0100,
  MessageId: 0x0110,
  MessageIdBeingRespondedTo: 0x0120,
  MoveDestination: 0x0600,
  Priority: 0x0700,
  CommandDataSetType: 0x0800,
  Status: 0x0900,
  ErrorComment: 0x0902,
  AffectedSopInstanceUid: 0x1000,
  RequestedSopInstanceUid: 0x1001,
} as const);

/** Command Data Set Type (0000,0800) value meaning "no data set follows". PS3.7 §E.1. */
export const NO_DATA_SET = 0x0101;

/** DIMSE status codes the gateway sends, PS3.7 Annex C. */
export const Status = Object.freeze({
  Success: 0x0000,
  /** PS3.7 C.5 general status "Refused: Not Authorized". */
  RefusedNotAuthorized: 0x0124,
} as const);
