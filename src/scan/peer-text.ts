// Text a scanned host chose (a header, a JSON value, a status line), made safe to print in a report:
// no control characters that could drive the admin's terminal, and a bounded length.

/** C0 and C1 controls (ESC, BEL, CR, …) and the bidirectional overrides that reorder what a reader sees. */
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** At most this many characters of any one peer-chosen value reach the evidence. */
export const MAX_PEER_TEXT = 120;

/** `text` with every unprintable character as `?`, cut to MAX_PEER_TEXT characters (marked with `…`). */
export function peerText(text: string): string {
  const clean = text.replace(UNPRINTABLE, '?');
  return clean.length > MAX_PEER_TEXT ? `${clean.slice(0, MAX_PEER_TEXT)}…` : clean;
}
