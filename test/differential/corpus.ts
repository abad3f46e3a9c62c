// The HTTP framing corpus for the differential: request smuggling mutations of a STOW-RS POST, each followed by a pipelined marker request.

/** One case: the bytes a client sends on a fresh connection. */
export interface FramingCase {
  readonly name: string;
  readonly bytes: Buffer;
}

const CRLF = '\r\n';

/** What every request carries so the edge's guard lets it through (a session token) and a Host. */
export interface CaseContext { readonly token: string }

function post(c: CaseContext, framing: string, body: string, o: { line?: string; host?: string; extra?: string } = {}): string {
  return `${o.line ?? 'POST /dicom-web/studies HTTP/1.1'}${CRLF}${o.host ?? `Host: pacs${CRLF}`}Authorization: Bearer ${c.token}${CRLF}Content-Type: application/dicom${CRLF}${o.extra ?? ''}${framing}${CRLF}${body}`;
}

/** The request after each case: where it starts tells how the case's body was framed. */
export function marker(c: CaseContext): string {
  return `GET /dicom-web/instances HTTP/1.1${CRLF}Host: pacs${CRLF}Authorization: Bearer ${c.token}${CRLF}${CRLF}`;
}

export function framingCorpus(c: CaseContext): FramingCase[] {
  const inner = `GET /dicom-web/series HTTP/1.1${CRLF}Host: pacs${CRLF}Authorization: Bearer ${c.token}${CRLF}${CRLF}`;
  const chunk = (s: string): string => `${s.length.toString(16)}${CRLF}${s}${CRLF}0${CRLF}${CRLF}`;
  const cases: [string, string][] = [
    ['CL', post(c, `Content-Length: 5${CRLF}`, 'hello')],
    ['chunked', post(c, `Transfer-Encoding: chunked${CRLF}`, chunk('hello'))],
    ['TE Chunked (case)', post(c, `Transfer-Encoding: Chunked${CRLF}`, chunk('hello'))],
    ['TE tab before value', post(c, `Transfer-Encoding:\tchunked${CRLF}`, chunk('hello'))],
    ['TE trailing space', post(c, `Transfer-Encoding: chunked ${CRLF}`, chunk('hello'))],
    ['TE no space', post(c, `Transfer-Encoding:chunked${CRLF}`, chunk('hello'))],
    ['TE chunked, identity', post(c, `Transfer-Encoding: chunked, identity${CRLF}`, chunk('hello'))],
    ['TE identity, chunked', post(c, `Transfer-Encoding: identity, chunked${CRLF}`, chunk('hello'))],
    ['TE gzip, chunked', post(c, `Transfer-Encoding: gzip, chunked${CRLF}`, chunk('hello'))],
    ['TE xchunked', post(c, `Transfer-Encoding: xchunked${CRLF}`, chunk('hello'))],
    ['TE chunked + vertical tab', post(c, `Transfer-Encoding: chunked\x0b${CRLF}`, chunk('hello'))],
    ['TE twice', post(c, `Transfer-Encoding: chunked${CRLF}Transfer-Encoding: chunked${CRLF}`, chunk('hello'))],
    ['TE space before colon', post(c, `Transfer-Encoding : chunked${CRLF}`, chunk('hello'))],
    ['TE underscore name', post(c, `Transfer_Encoding: chunked${CRLF}Content-Length: 5${CRLF}`, 'hello')],
    ['TE NUL in name', post(c, `Transfer-Encoding\0: chunked${CRLF}`, chunk('hello'))],
    ['TE obs-fold', post(c, `Transfer-Encoding:${CRLF} chunked${CRLF}`, chunk('hello'))],
    ['TE in HTTP/1.0', post(c, `Transfer-Encoding: chunked${CRLF}`, chunk('hello'), { line: 'POST /dicom-web/studies HTTP/1.0' })],
    ['CL.TE', post(c, `Content-Length: ${chunk('').length + inner.length}${CRLF}Transfer-Encoding: chunked${CRLF}`, `${chunk('')}${inner}`)],
    ['TE.CL', post(c, `Transfer-Encoding: chunked${CRLF}Content-Length: 4${CRLF}`, chunk(inner))],
    ['CL leading zero', post(c, `Content-Length: 05${CRLF}`, 'hello')],
    ['CL plus sign', post(c, `Content-Length: +5${CRLF}`, 'hello')],
    ['CL negative', post(c, `Content-Length: -5${CRLF}`, 'hello')],
    ['CL hex', post(c, `Content-Length: 0x5${CRLF}`, 'hello')],
    ['CL list 5, 5', post(c, `Content-Length: 5, 5${CRLF}`, 'hello')],
    ['CL twice same', post(c, `Content-Length: 5${CRLF}Content-Length: 5${CRLF}`, 'hello')],
    ['CL twice different', post(c, `Content-Length: 0${CRLF}Content-Length: ${inner.length}${CRLF}`, inner)],
    ['CL huge', post(c, `Content-Length: 99999999999999999999${CRLF}`, 'hello')],
    ['CL trailing vertical tab', post(c, `Content-Length: 5\x0b${CRLF}`, 'hello')],
    ['CL obs-fold', post(c, `Content-Length:${CRLF} 5${CRLF}`, 'hello')],
    ['CL space before colon', post(c, `Content-Length : 5${CRLF}`, 'hello')],
    ['chunk size overflow', post(c, `Transfer-Encoding: chunked${CRLF}`, `1000000000000000005${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk size leading zeros', post(c, `Transfer-Encoding: chunked${CRLF}`, `0000000005${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk size 0x prefix', post(c, `Transfer-Encoding: chunked${CRLF}`, `0x5${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk size negative', post(c, `Transfer-Encoding: chunked${CRLF}`, `-5${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk size space', post(c, `Transfer-Encoding: chunked${CRLF}`, `5 ${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk extension', post(c, `Transfer-Encoding: chunked${CRLF}`, `5;ext=1${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk extension bare LF', post(c, `Transfer-Encoding: chunked${CRLF}`, `5;a\nb${CRLF}hello${CRLF}0${CRLF}${CRLF}`)],
    ['chunk data without CRLF', post(c, `Transfer-Encoding: chunked${CRLF}`, `5${CRLF}helloXX0${CRLF}${CRLF}`)],
    ['chunk size bare LF', post(c, `Transfer-Encoding: chunked${CRLF}`, `5\nhello${CRLF}0${CRLF}${CRLF}`)],
    ['chunked with trailer', post(c, `Transfer-Encoding: chunked${CRLF}`, `5${CRLF}hello${CRLF}0${CRLF}X-Trailer: 1${CRLF}${CRLF}`)],
    ['bare LF between fields', post(c, `Content-Length: 5\nX-A: 1${CRLF}`, 'hello')],
    ['bare LF ends the head', post(c, `Content-Length: 5\n`, 'hello').replace(`${CRLF}${CRLF}hello`, '\n\nhello')],
    ['bare CR in a value', post(c, `Content-Length: 5${CRLF}X-A: 1\r2${CRLF}`, 'hello')],
    ['NUL in a value', post(c, `Content-Length: 5${CRLF}X-A: 1\x002${CRLF}`, 'hello')],
    ['high bytes in a value', post(c, `Content-Length: 5${CRLF}X-A: caf\xe9${CRLF}`, 'hello')],
    ['space in a field name', post(c, `Content-Length: 5${CRLF}X A: 1${CRLF}`, 'hello')],
    ['high byte in a field name', post(c, `Content-Length: 5${CRLF}X-\xe9: 1${CRLF}`, 'hello')],
    ['empty field name', post(c, `Content-Length: 5${CRLF}: 1${CRLF}`, 'hello')],
    ['NUL in the target', post(c, `Content-Length: 5${CRLF}`, 'hello', { line: 'POST /dicom-web/stu\0dies HTTP/1.1' })],
    ['high byte in the target', post(c, `Content-Length: 5${CRLF}`, 'hello', { line: 'POST /dicom-web/studies?x=\xe9 HTTP/1.1' })],
    ['absolute-form target', post(c, `Content-Length: 5${CRLF}`, 'hello', { line: 'POST http://pacs/dicom-web/studies HTTP/1.1' })],
    ['two spaces in the request line', post(c, `Content-Length: 5${CRLF}`, 'hello', { line: 'POST  /dicom-web/studies HTTP/1.1' })],
    ['lower-case version', post(c, `Content-Length: 5${CRLF}`, 'hello', { line: 'POST /dicom-web/studies http/1.1' })],
    ['lower-case method', post(c, `Content-Length: 5${CRLF}`, 'hello', { line: 'post /dicom-web/studies HTTP/1.1' })],
    ['no Host', post(c, `Content-Length: 5${CRLF}`, 'hello', { host: '' })],
    ['two Hosts', post(c, `Content-Length: 5${CRLF}`, 'hello', { host: `Host: pacs${CRLF}Host: evil${CRLF}` })],
    ['Expect: 100-continue', post(c, `Content-Length: 5${CRLF}Expect: 100-continue${CRLF}`, 'hello')],
    ['Expect: 100-Continue', post(c, `Content-Length: 5${CRLF}Expect: 100-Continue${CRLF}`, 'hello')],
    ['Expect: other', post(c, `Content-Length: 5${CRLF}Expect: 200-ok${CRLF}`, 'hello')],
    ['Connection: content-length', post(c, `Content-Length: 5${CRLF}Connection: content-length${CRLF}`, 'hello')],
    ['GET with a body that is a request', `GET /dicom-web/studies HTTP/1.1${CRLF}Host: pacs${CRLF}Authorization: Bearer ${c.token}${CRLF}Content-Length: ${inner.length}${CRLF}${CRLF}${inner}`],
    ['pipelined body holding a request', post(c, `Content-Length: ${inner.length}${CRLF}`, inner)],
  ];
  return cases.map(([name, text]) => ({ name, bytes: Buffer.from(text + marker(c), 'latin1') }));
}
