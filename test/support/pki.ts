import { execFileSync } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files made by openssl: a CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
export interface Pki {
  dir: string;
  ca: Buffer;
  otherCa: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A client certificate signed by the unrelated CA. */
  strangerCert: Buffer;
  strangerKey: Buffer;
}

export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "credbroker-pki-"));
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ca = (name: string) =>
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
      "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.crt`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  const leaf = (name: string, signer: string, ext: string) => {
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`,
      "-keyout", `${name}.key`, "-out", `${name}.csr`);
    execFileSync("sh", ["-c", `printf '%s\\n' "${ext}" > ${name}.ext`], { cwd: dir });
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${signer}.crt`, "-CAkey", `${signer}.key`, "-CAcreateserial",
      "-days", "2", "-out", `${name}.crt`, "-extfile", `${name}.ext`);
  };
  ca("ca");
  ca("other-ca");
  leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
  leaf("client", "ca", "extendedKeyUsage=clientAuth");
  leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth");
  const read = (name: string) => readFile(join(dir, name));
  return {
    dir,
    ca: await read("ca.crt"),
    otherCa: await read("other-ca.crt"),
    serverCert: await read("server.crt"),
    serverKey: await read("server.key"),
    clientCert: await read("client.crt"),
    clientKey: await read("client.key"),
    strangerCert: await read("stranger.crt"),
    strangerKey: await read("stranger.key"),
  };
}
