/**
 * Cognito guest credentials in the browser without the AWS SDK: the identity pool's enhanced
 * (simplified) flow, `GetId` then `GetCredentialsForIdentity`, both unsigned JSON 1.1 calls
 * (API reference: https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/).
 */

const TARGET = "AWSCognitoIdentityService.";

/**
 * @typedef {object} GuestCredentials
 * @property {string} identityId
 * @property {string} accessKeyId
 * @property {string} secretKey
 * @property {string} sessionToken
 * @property {number} expiration   ms since the epoch
 */

/**
 * @typedef {object} CognitoOptions
 * @property {string} region
 * @property {string} identityPoolId
 * @property {string} [endpoint]     default `https://cognito-identity.<region>.amazonaws.com/`
 * @property {{ getItem(k: string): string | null, setItem(k: string, v: string): void, removeItem(k: string): void } | null} [storage]
 *   where the identity id is kept across reloads (default: localStorage when there is one)
 * @property {string} [storageKey]
 * @property {typeof fetch} [fetch]
 */

/** An error from Cognito, with its `__type` (e.g. NotAuthorizedException). */
export class CognitoError extends Error {
  /**
   * @param {string} type
   * @param {string} message
   * @param {number} status
   */
  constructor(type, message, status) {
    super(`Cognito ${type}: ${message}`);
    this.name = "CognitoError";
    this.type = type;
    this.status = status;
  }
}

/**
 * @param {CognitoOptions} opts
 * @param {string} op
 * @param {object} body
 * @returns {Promise<any>}
 */
async function call(opts, op, body) {
  const url = opts.endpoint || `https://cognito-identity.${opts.region}.amazonaws.com/`;
  const doFetch = opts.fetch || fetch;
  const res = await doFetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op },
    body: JSON.stringify(body),
  });
  /** @type {any} */
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const type = data && typeof data.__type === "string" ? data.__type.split("#").pop() : "HTTP " + res.status;
    const message = data && typeof data.message === "string" ? data.message : res.statusText || "request failed";
    throw new CognitoError(type, message, res.status);
  }
  if (!data || typeof data !== "object") throw new CognitoError("InvalidResponse", `${op} did not return JSON`, res.status);
  return data;
}

/** @param {CognitoOptions} opts */
function storageOf(opts) {
  if (opts.storage !== undefined) return opts.storage;
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage blocked by the browser's settings
  }
}

/**
 * Guest credentials; the identity id is reused across calls and reloads (so the guest keeps
 * its client id and topics), and started over once when Cognito no longer knows it.
 *
 * @param {CognitoOptions} opts
 * @returns {Promise<GuestCredentials>}
 */
export async function guestCredentials(opts) {
  if (!opts.region || !opts.identityPoolId) throw new Error("connectGuest needs region and identityPoolId");
  const storage = storageOf(opts);
  const key = opts.storageKey || "iotws.cognito.identityId";
  let identityId = storage ? storage.getItem(key) : null;
  /** @type {any} */
  let res;
  if (identityId) {
    try {
      res = await call(opts, "GetCredentialsForIdentity", { IdentityId: identityId });
    } catch (err) {
      if (!(err instanceof CognitoError) || err.status >= 500) throw err;
      identityId = null; // an id from another pool or a deleted identity: start over once
    }
  }
  if (!res) {
    const got = await call(opts, "GetId", { IdentityPoolId: opts.identityPoolId });
    identityId = String(got.IdentityId || "");
    if (!identityId) throw new CognitoError("InvalidResponse", "GetId returned no IdentityId", 200);
    res = await call(opts, "GetCredentialsForIdentity", { IdentityId: identityId });
  }
  if (storage && identityId) storage.setItem(key, identityId);
  const c = res.Credentials || {};
  if (!c.AccessKeyId || !c.SecretKey) throw new CognitoError("InvalidResponse", "no Credentials in the response", 200);
  // JSON 1.1 timestamps are epoch seconds.
  const expiration = typeof c.Expiration === "number" ? c.Expiration * 1000 : Date.now() + 3600_000;
  return {
    identityId: String(identityId),
    accessKeyId: c.AccessKeyId,
    secretKey: c.SecretKey,
    sessionToken: c.SessionToken,
    expiration,
  };
}
