// One error module: a base class with a string code, plus the table of every code a user can meet.

/** Every error code the gateway raises, with the HTTP status it maps to and the text users see. */
export const ERRORS = Object.freeze({
  ERR_CONFIG_INVALID: { status: 500, message: 'The configuration is invalid' },
  ERR_CONFIG_READ: { status: 500, message: 'The configuration file cannot be read' },
  ERR_USERS_FILE: { status: 500, message: 'The users file is invalid' },
  ERR_USER_EXISTS: { status: 409, message: 'A user with that name already exists' },
  ERR_USER_UNKNOWN: { status: 404, message: 'No such user' },
  ERR_ROLE_UNKNOWN: { status: 400, message: 'No such role in the configuration' },
  ERR_PASSWORD_WEAK: { status: 400, message: 'The password is too weak' },
  ERR_USERNAME_INVALID: { status: 400, message: 'The username is not valid' },
  ERR_LOGIN_FAILED: { status: 401, message: 'Login failed: wrong username, password or code' },
  ERR_LOCKED_OUT: { status: 429, message: 'Too many failed attempts; try again later' },
  ERR_UNAUTHENTICATED: { status: 401, message: 'Authentication required' },
  ERR_SESSION_EXPIRED: { status: 401, message: 'The session has expired; log in again' },
  ERR_FORBIDDEN: { status: 403, message: 'Your role does not allow this action' },
  ERR_CROSS_SITE: { status: 403, message: 'Cross-site request refused: this request must come from the gateway\'s own pages' },
  ERR_ROUTE_REFUSED: { status: 404, message: 'Not a DICOMweb route this gateway forwards' },
  ERR_PATH_REFUSED: { status: 400, message: 'The request path is not allowed' },
  ERR_BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  ERR_UPSTREAM_UNAVAILABLE: { status: 502, message: 'The PACS is unreachable' },
  ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'The PACS did not answer in time' },
  ERR_BUSY: { status: 503, message: 'The gateway is busy checking other logins; try again in a few seconds' },
  ERR_DIRECTORY_UNAVAILABLE: { status: 503, message: 'The hospital directory (LDAP) cannot be reached; directory users cannot log in until it returns' },
  ERR_STORE_UNAVAILABLE: { status: 503, message: 'The state store is unavailable; the gateway refuses new sessions until it returns' },
  ERR_CERT_INVALID: { status: 500, message: 'A certificate or key file is invalid' },
  ERR_CERT_REFUSED: { status: 403, message: 'The client certificate is not accepted' },
  ERR_DEVICE_UNKNOWN: { status: 404, message: 'No such device' },
  ERR_CA_EXISTS: { status: 409, message: 'A CA already exists; pass --force to replace it' },
  ERR_PDU_MALFORMED: { status: 400, message: 'Malformed DICOM PDU' },
  ERR_USAGE: { status: 400, message: 'Wrong command-line usage' },
  ERR_SCAN_TARGET: { status: 400, message: 'A scan target is not a host name, an address or a CIDR range, or the targets hold too many addresses' },
} as const);

export type ErrorCode = keyof typeof ERRORS;

/** Base of every error the gateway throws for bad input or environment. Programmer mistakes throw TypeError. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Extra fields that are safe to show a user (never secrets). */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; detail?: Record<string, unknown> }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.detail = options?.detail;
  }
}

export function isGatewayError(err: unknown, code?: ErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}
