// The one action vocabulary both channels (DIMSE and DICOMweb) are checked against.

export const ACTIONS = Object.freeze(['echo', 'search', 'retrieve', 'move', 'store', 'delete', 'n-services'] as const);

export type Action = (typeof ACTIONS)[number];

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}
