// RFC 5424 syslog messages framed for RFC 5425 (syslog over TLS: octet counting), as IHE ATNA (ITI-20) sends audit records.

/** PRI: facility authpriv (10) × 8 + severity notice (5), RFC 5424 §6.2.1. */
const PRI = 10 * 8 + 5;
/** MSGID for DICOM/RFC 3881 audit messages (IHE ITI TF-2 §3.20.6). */
export const ATNA_MSGID = 'IHE+RFC-3881';
const BOM = '\ufeff';

/** PRINTUSASCII without spaces, at most `max` characters (RFC 5424 §6); '-' when empty. */
function header(value: string, max: number): string {
  const v = (/^[\x21-\x7e]*$/.test(value) ? value : value.replace(/[^\x21-\x7e]/g, '')).slice(0, max);
  return v === '' ? '-' : v;
}

/** One frame: "MSG-LEN SP SYSLOG-MSG" (RFC 5425 §4.3), the message UTF-8 with a BOM (RFC 5424 §6.4). */
export function syslogFrame(xml: string, o: { at: number; hostname: string; appName: string; procId: string }): Buffer {
  const msg = `<${PRI}>1 ${new Date(o.at).toISOString()} ${header(o.hostname, 255)} ${header(o.appName, 48)} ${header(o.procId, 128)} ${ATNA_MSGID} - ${BOM}${xml}`;
  return Buffer.from(`${Buffer.byteLength(msg, 'utf8')} ${msg}`, 'utf8');
}
