/**
 * SigV4-presigned WebSocket URL for AWS IoT Core, with the Web Crypto API only (browsers and
 * Node 20+): service `iotdevicegateway`, `GET /mqtt`, signed header `host`, empty-payload
 * hash, and the session token appended as X-Amz-Security-Token AFTER signing.
 *
 * AWS documents these rules on "Signature Version 4 signing process" and, for IoT,
 * https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html (MQTT over the
 * WebSocket protocol). The same rules as generator/iotws/presign.py; tests/cognito checks
 * that both give the same URL for the same inputs.
 */

export const SERVICE = "iotdevicegateway";
export const PATH = "/mqtt";
const ALGORITHM = "AWS4-HMAC-SHA256";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const encoder = new TextEncoder();

/**
 * @typedef {object} AwsCredentials
 * @property {string} accessKeyId
 * @property {string} [secretKey]        the name Cognito's GetCredentialsForIdentity uses
 * @property {string} [secretAccessKey]  the AWS SDK's name
 * @property {string} [sessionToken]
 * @property {number} [expiration]       ms since the epoch, when the credentials expire
 */

/**
 * RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone).
 * @param {string} value
 */
export function rfc3986(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * "host", "host:port" or a ws/wss/http/https URL -> { scheme, host }.
 * @param {string} endpoint
 * @returns {{ scheme: "ws" | "wss", host: string }}
 */
export function splitEndpoint(endpoint) {
  let text = String(endpoint || "").trim();
  /** @type {"ws" | "wss"} */
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

/** @param {ArrayBuffer} buf */
function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {string} text */
async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * @param {BufferSource} key
 * @param {string} text
 */
async function hmac(key, text) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, encoder.encode(text));
}

/** @param {Date} d */
function amzDate(d) {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * The presigned wss:// (or ws:// for a local endpoint) URL.
 *
 * @param {object} args
 * @param {string} args.endpoint     the account's iot:Data-ATS host, or a ws(s):// URL
 * @param {string} args.region
 * @param {AwsCredentials} args.credentials
 * @param {number} [args.expires]    seconds the URL may be used to start a connection (900)
 * @param {Date} [args.now]
 * @returns {Promise<string>}
 */
export async function presignWssUrl({ endpoint, region, credentials, expires = 900, now }) {
  const { scheme, host } = splitEndpoint(endpoint);
  const secret = credentials.secretAccessKey || credentials.secretKey;
  if (!credentials.accessKeyId || !secret) {
    throw new Error("credentials need accessKeyId and secretKey");
  }
  if (!/^[a-z]{2}(-[a-z]+)+-[0-9]+$/.test(region)) {
    throw new Error("not an AWS region: " + region);
  }
  const stamp = amzDate(now || new Date());
  const day = stamp.slice(0, 8);
  const scope = `${day}/${region}/${SERVICE}/aws4_request`;
  // Sorted by name, as the canonical query string must be; the URL keeps the same order.
  const query = [
    ["X-Amz-Algorithm", ALGORITHM],
    ["X-Amz-Credential", `${credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", stamp],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  ]
    .map(([k, v]) => rfc3986(k) + "=" + rfc3986(v))
    .join("&");
  const canonical = ["GET", PATH, query, `host:${host}`, "", "host", EMPTY_SHA256].join("\n");
  const toSign = [ALGORITHM, stamp, scope, await sha256Hex(canonical)].join("\n");
  let key = await hmac(encoder.encode("AWS4" + secret), day);
  for (const part of [region, SERVICE, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  let url = `${scheme}://${host}${PATH}?${query}&X-Amz-Signature=${signature}`;
  if (credentials.sessionToken) {
    url += "&X-Amz-Security-Token=" + rfc3986(credentials.sessionToken);
  }
  return url;
}
