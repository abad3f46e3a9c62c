// Bytes relayed each way on both channels, as plain counters the metrics read when scraped (one addition per chunk).

export const traffic = {
  /** DIMSE: P-DATA bytes forwarded from clients to the PACS (PDV fragments). */
  dicomToPacs: 0,
  /** DIMSE: bytes relayed from the PACS to clients. */
  dicomToClient: 0,
  /** HTTPS: request body bytes forwarded upstream (PACS and control plane). */
  httpToUpstream: 0,
  /** HTTPS: response body bytes relayed to clients. */
  httpToClient: 0,
};
