/**
 * The credbroker client for admin tooling and step runners:
 * `import { createCredbrokerClient } from "credbroker/client"`.
 */
export {
  createCredbrokerClient,
  parseBrokerAddress,
  type BrokerEndpoint,
  type ClientTlsOptions,
  type CredbrokerClient,
  type CredbrokerClientOptions,
} from "./create-client.ts";
export { brokerErrorDetails, type BrokerErrorDetails, type FieldViolation } from "./error-details.ts";
// the same classes the clients throw, so `instanceof` holds whatever copy the caller has installed
export { Code, ConnectError } from "@connectrpc/connect";
