/**
 * The latest `DPoP-Nonce` each token endpoint origin sent (RFC 9449 §8).
 * Shared by every secret of a fetcher: a server's nonce is the server's,
 * not a client's, so a secret's first request need not pay the
 * use_dpop_nonce round trip another secret already paid.
 */
export interface DpopNonces {
  /** The nonce last seen from an origin. */
  get(origin: string): string | undefined;
  /** Remembers the `DPoP-Nonce` of a response, if it has one. */
  note(origin: string, response: Response): void;
}

// A nonce is short text; this bounds the map for a broker with many token endpoints.
const MAX_ORIGINS = 1000;
const MAX_NONCE_LENGTH = 1024;

/** An empty nonce memory, least recently noted origin out first. */
export function createDpopNonces(): DpopNonces {
  const nonces = new Map<string, string>();
  return {
    get: (origin) => nonces.get(origin),
    note(origin, response) {
      const nonce = response.headers.get("dpop-nonce");
      if (nonce === null || nonce === "" || nonce.length > MAX_NONCE_LENGTH) {
        return;
      }
      nonces.delete(origin);
      nonces.set(origin, nonce);
      if (nonces.size > MAX_ORIGINS) {
        nonces.delete(nonces.keys().next().value as string);
      }
    },
  };
}
