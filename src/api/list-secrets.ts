import type { MessageInitShape } from "@bufbuild/protobuf";
import { credentialTypeOf } from "../credentials/credential-registry.ts";
import { recordedSteps } from "../credentials/served-steps.ts";
import { Mode, StepKind, type Secret, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { SecretOrder, type ListSecretsRequest, type ListSecretsResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { invalidField } from "../errors.ts";
import type { ListedSecret, SecretStore } from "../store/secret-store.ts";
import { decodePageToken, encodePageToken, listingFingerprint } from "./page-token.ts";
import type { LastUseTracker } from "./last-use.ts";
import type { SecretAnswer } from "./secret-answer.ts";
import { checkMode, checkStep } from "./validate-request.ts";

/** What ListSecrets needs. */
export interface ListSecretsDeps {
  /** Where records live. */
  store: SecretStore;
  /** Builds each listed secret's answer. */
  answer: SecretAnswer;
  /** When secrets last served an Inject, read for a page at once; undefined: no last-use times. */
  lastUse?: Pick<LastUseTracker, "lastUses"> | undefined;
}

const defaultPageSize = 50;
const maxPageSize = 1000;
/** A name is at most 63 characters: a longer search text could match nothing. */
const maxNameContains = 63;

/** A checked ListSecrets filter and order. */
interface Listing {
  readonly mode: Mode;
  readonly nameContains: string;
  readonly types: ReadonlySet<SecretType>;
  readonly step: StepKind;
  readonly byUpdateTime: boolean;
}

/**
 * ListSecrets. The unfiltered listing by name reads one page of metadata
 * from the store (and a cached count). A filter or the update-time order
 * reads the metadata of every secret of the mode (sealed payloads are
 * skipped, never decoded; a name-only search tests names before decoding):
 * the total and the order need them all.
 */
export function createListSecrets({ store, answer, lastUse }: ListSecretsDeps) {
  return async function listSecrets(req: ListSecretsRequest): Promise<MessageInitShape<typeof ListSecretsResponseSchema>> {
    if (req.pageSize < 0) {
      throw invalidField("pageSize", "must not be negative");
    }
    const pageSize = Math.min(req.pageSize === 0 ? defaultPageSize : req.pageSize, maxPageSize);
    const listing = checkListing(req);
    const fingerprint = listingFingerprint(
      JSON.stringify([listing.mode, listing.nameContains, [...listing.types].sort(), listing.step, listing.byUpdateTime]),
    );
    const after = decodePageToken(fingerprint, req.pageToken);
    const unfiltered = listing.nameContains === "" && listing.types.size === 0 && listing.step === StepKind.UNSPECIFIED;
    let page: ListedSecret[];
    let totalSize: number;
    if (unfiltered && !listing.byUpdateTime) {
      // one more than the page tells whether another page follows
      page = store.listSecrets(listing.mode, after, pageSize + 1);
      totalSize = store.count(listing.mode);
    } else {
      const match = listing.nameContains === "" ? undefined : (name: string) => name.includes(listing.nameContains);
      const matching = store.listSecrets(listing.mode, "", Number.POSITIVE_INFINITY, match).filter((listed) => matches(listing, listed.secret));
      if (listing.byUpdateTime) {
        matching.sort((a, b) => byUpdateTimeDesc(a.secret, b.secret));
      }
      totalSize = matching.length;
      const start = after === "" ? 0 : matching.findIndex((listed) => comesAfter(listing, listed.secret, after));
      page = start < 0 ? [] : matching.slice(start, start + pageSize + 1);
    }
    const more = page.length > pageSize;
    if (more) {
      page.pop();
    }
    const last = page[page.length - 1];
    // a live record is its own live copy, its deploy origin read with it; a test page's live copies are read at once, as are its last uses
    const names = page.map((listed) => listed.secret.name);
    const live = listing.mode === Mode.LIVE ? page : store.getMetadata(Mode.LIVE, names);
    const used = lastUse?.lastUses(listing.mode, names);
    return {
      secrets: page.map((listed, i) => answer(listed.secret, { live: live[i], lastUse: used?.[i] })),
      nextPageToken: more && last !== undefined ? encodePageToken(fingerprint, positionOf(listing, last.secret)) : "",
      totalSize,
    };
  };
}

function checkListing(req: ListSecretsRequest): Listing {
  const mode = checkMode(req.mode);
  if (req.nameContains.length > maxNameContains) {
    throw invalidField("nameContains", `must be at most ${maxNameContains} characters`);
  }
  req.types.forEach((type, i) => {
    if (credentialTypeOf(type) === undefined) {
      throw invalidField(`types[${i}]`, "must be a known SecretType other than SECRET_TYPE_UNSPECIFIED");
    }
  });
  if (req.orderBy !== SecretOrder.UNSPECIFIED && req.orderBy !== SecretOrder.NAME && req.orderBy !== SecretOrder.UPDATE_TIME_DESC) {
    throw invalidField("orderBy", "must be SECRET_ORDER_NAME, SECRET_ORDER_UPDATE_TIME_DESC or unspecified");
  }
  return {
    mode,
    // names are lowercase: the search is case-insensitive by lowering it
    nameContains: req.nameContains.toLowerCase(),
    types: new Set(req.types),
    step: checkStep(req.step),
    byUpdateTime: req.orderBy === SecretOrder.UPDATE_TIME_DESC,
  };
}

/** Whether a secret passes the type and step filters (the name was tested on the key). */
function matches(listing: Listing, secret: Secret): boolean {
  return (
    (listing.types.size === 0 || listing.types.has(secret.type)) &&
    (listing.step === StepKind.UNSPECIFIED || recordedSteps(secret.type, secret.steps).includes(listing.step))
  );
}

/** Microseconds of a secret's update time, as a sortable number (exact to the microsecond, below 2^53 until year 2255). */
function updateMicros(secret: Secret): number {
  const time = secret.updateTime;
  return time === undefined ? 0 : Number(time.seconds) * 1e6 + Math.floor(time.nanos / 1000);
}

function byUpdateTimeDesc(a: Secret, b: Secret): number {
  return updateMicros(b) - updateMicros(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Where a page ends: the name, or for the update-time order `<micros>/<name>` (names hold no '/'). */
function positionOf(listing: Listing, secret: Secret): string {
  return listing.byUpdateTime ? `${updateMicros(secret)}/${secret.name}` : secret.name;
}

/** Whether a secret comes after the position a page ended at, in the listing's order. */
function comesAfter(listing: Listing, secret: Secret, position: string): boolean {
  if (!listing.byUpdateTime) {
    return secret.name > position;
  }
  const slash = position.indexOf("/");
  const micros = Number(position.slice(0, slash));
  const name = position.slice(slash + 1);
  const own = updateMicros(secret);
  return own < micros || (own === micros && secret.name > name);
}
