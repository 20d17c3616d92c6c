/** The request fields that a private key's errors name: ERR_INVALID_FIELD with a problem that never quotes the key. */
import { invalidField } from "../errors.ts";

const KEY_FIELD = "credentials.sftpPrivateKey.privateKey";
const PASSPHRASE_FIELD = "credentials.sftpPrivateKey.passphrase";

/** An error on the private key field. */
export function keyError(problem: string) {
  return invalidField(KEY_FIELD, problem);
}

/** An error on the passphrase field. */
export function passphraseError(problem: string) {
  return invalidField(PASSPHRASE_FIELD, problem);
}
