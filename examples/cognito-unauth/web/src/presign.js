/*
 * SigV4-presigned WebSocket URL for AWS IoT Core, in the browser (IOT_FACTS section 6):
 * service `iotdevicegateway`, `GET /mqtt`, signed header `host`, empty-payload hash, and
 * the session token appended as X-Amz-Security-Token AFTER signing.
 *
 * The same rules as generator/iotws/presign.py; tests/cognito checks that both give the
 * same URL for the same inputs.
 */
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

export const SERVICE = "iotdevicegateway";
export const PATH = "/mqtt";
const ORDER = [
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
];

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
export function rfc3986(value) {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** "host", "host:port" or a ws/wss URL -> { scheme, host }. */
export function splitEndpoint(endpoint) {
  let text = String(endpoint || "").trim();
  let scheme = "wss";
  const m = /^(wss?|https?):\/\/([^/?#]+)(\/mqtt)?\/?$/i.exec(text);
  if (m) {
    scheme = /^(wss|https)$/i.test(m[1]) ? "wss" : "ws";
    text = m[2];
  }
  if (!/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(text)) {
    throw new Error("not an IoT endpoint host: " + endpoint);
  }
  return { scheme, host: text.toLowerCase() };
}

/**
 * credentials: { accessKeyId, secretKey | secretAccessKey, sessionToken } (the Credentials
 * of Cognito GetCredentialsForIdentity). Returns the wss:// URL as a string.
 */
export async function presignWssUrl({ endpoint, region, credentials, expires = 900, now }) {
  const { scheme, host } = splitEndpoint(endpoint);
  const secretAccessKey = credentials.secretAccessKey || credentials.secretKey;
  if (!credentials.accessKeyId || !secretAccessKey) {
    throw new Error("credentials need accessKeyId and secretKey");
  }
  // No session token here: the signer would sign it, and IoT wants it after signing.
  const signer = new SignatureV4({
    service: SERVICE,
    region,
    sha256: Sha256,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey },
  });
  const [hostname, port] = host.split(":");
  const signed = await signer.presign(
    {
      method: "GET",
      protocol: scheme === "wss" ? "https:" : "http:",
      hostname,
      port: port ? Number(port) : undefined,
      path: PATH,
      headers: { host },
      query: {},
    },
    { expiresIn: expires, signingDate: now || new Date() },
  );
  const query = ORDER.map((k) => rfc3986(k) + "=" + rfc3986(String(signed.query[k]))).join("&");
  let url = `${scheme}://${host}${PATH}?${query}`;
  if (credentials.sessionToken) {
    url += "&X-Amz-Security-Token=" + rfc3986(credentials.sessionToken);
  }
  return url;
}
