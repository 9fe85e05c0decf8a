/**
 * Readable reasons for every way an MQTT connection to AWS IoT Core (or the local emulator)
 * ends: CONNACK return codes (MQTT 3.1.1), reason codes (MQTT 5) and the silent closes IoT
 * uses instead of an error packet, interpreted from what the client did just before.
 *
 * Sources: the MQTT 3.1.1 and MQTT 5 specifications (CONNACK and reason-code tables) and
 * docs/data-plane.md#denied-subscribe and docs/lifecycle-events.md#disconnect-reasons in this
 * repository for what IoT Core does on a forbidden action.
 */

/** CONNACK return codes of MQTT 3.1.1. */
export const CONNACK_V3 = /** @type {Record<number, string>} */ ({
  1: "unacceptable protocol version",
  2: "client id rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
});

/** MQTT 5 reason codes that can end a connection (CONNACK or DISCONNECT). */
export const REASON_V5 = /** @type {Record<number, string>} */ ({
  0x04: "disconnect with will message",
  0x80: "unspecified error",
  0x81: "malformed packet",
  0x82: "protocol error",
  0x83: "implementation specific error",
  0x84: "unsupported protocol version",
  0x85: "client id not valid",
  0x86: "bad user name or password",
  0x87: "not authorized",
  0x88: "server unavailable",
  0x89: "server busy",
  0x8a: "banned",
  0x8b: "server shutting down",
  0x8c: "bad authentication method",
  0x8d: "keep alive timeout",
  0x8e: "session taken over by another connection with the same client id",
  0x8f: "topic filter invalid",
  0x90: "topic name invalid",
  0x93: "receive maximum exceeded",
  0x94: "topic alias invalid",
  0x95: "packet too large",
  0x96: "message rate too high",
  0x97: "quota exceeded",
  0x98: "administrative action",
  0x99: "payload format invalid",
  0x9a: "retain not supported",
  0x9b: "QoS not supported",
  0x9c: "use another server",
  0x9d: "server moved",
  0x9e: "shared subscriptions not supported",
  0x9f: "connection rate exceeded",
  0xa0: "maximum connect time reached",
  0xa1: "subscription identifiers not supported",
  0xa2: "wildcard subscriptions not supported",
});

/** Codes that mean "these credentials will not do": retrying with them is pointless. */
const AUTH_V3 = new Set([4, 5]);
const AUTH_V5 = new Set([0x86, 0x87, 0x8a, 0x8c]);

/**
 * @typedef {"auth" | "session-end" | "taken-over" | "policy" | "protocol" | "server" | "network" | "client"} CloseKind
 *   auth: the credentials were refused (counts toward giving up);
 *   session-end: the server's time limit (token, authorizer session, 24 h): reconnect now;
 *   taken-over: another connection uses the client id: do not fight it;
 *   policy: a forbidden SUBSCRIBE or PUBLISH; protocol: a packet the other side refused;
 *   server: the server is busy or going away; network: the link broke; client: we ended it.
 */

/**
 * @typedef {object} CloseReason
 * @property {CloseKind} kind
 * @property {string} code     a stable machine-readable code, e.g. "connack-5", "mqtt5-0x87"
 * @property {string} message  a sentence for people
 * @property {string} [topic]  the topic a policy refusal is about
 */

/**
 * A refused CONNACK.
 * @param {number} code
 * @param {4 | 5} protocolVersion
 * @returns {CloseReason}
 */
export function connackReason(code, protocolVersion) {
  if (protocolVersion === 5) {
    const name = REASON_V5[code] || "unknown reason code";
    return {
      kind: AUTH_V5.has(code) ? "auth" : code === 0x89 || code === 0x88 || code === 0x9f ? "server" : "protocol",
      code: "mqtt5-0x" + code.toString(16),
      message: `the server refused the connection: ${name} (CONNACK reason code 0x${code.toString(16)})` + authHint(AUTH_V5.has(code)),
    };
  }
  const name = CONNACK_V3[code] || "unknown return code";
  return {
    kind: AUTH_V3.has(code) ? "auth" : code === 3 ? "server" : "protocol",
    code: "connack-" + code,
    message: `the server refused the connection: ${name} (CONNACK return code ${code})` + authHint(AUTH_V3.has(code)),
  };
}

/** @param {boolean} auth */
function authHint(auth) {
  return auth ? ": the authorizer denied the token or the client id, or the token has expired" : "";
}

/**
 * A DISCONNECT sent by the server (MQTT 5 only).
 * @param {number} code
 * @returns {CloseReason}
 */
export function disconnectReason(code) {
  const name = REASON_V5[code] || "unknown reason code";
  const hex = "0x" + code.toString(16);
  /** @type {CloseKind} */
  let kind = "protocol";
  if (code === 0xa0) kind = "session-end";
  else if (code === 0x8e) kind = "taken-over";
  else if (AUTH_V5.has(code)) kind = "auth";
  else if (code === 0x88 || code === 0x89 || code === 0x8b || code === 0x96 || code === 0x97 || code === 0x9f) kind = "server";
  let message = `the server disconnected: ${name} (reason code ${hex})`;
  if (code === 0xa0) message += ": the authorizer's session time (disconnectAfterInSeconds) or the 24-hour limit is over";
  if (code === 0x87) message += ": the policy refresh denied the connection (token expired or revoked)";
  return { kind, code: "mqtt5-" + hex, message };
}

/**
 * @typedef {object} LastAction
 * @property {"subscribe" | "publish"} kind
 * @property {string} topic
 * @property {number} at   time in ms (the connection's clock)
 */

/**
 * A close without an error packet. IoT Core closes the connection on a forbidden PUBLISH (and,
 * by older documentation, on a forbidden SUBSCRIBE), and closes before CONNACK when the
 * authorizer denies, so the context decides the message.
 *
 * @param {object} ctx
 * @param {boolean} ctx.connected   a CONNACK was received on this connection
 * @param {boolean} ctx.opened      the WebSocket upgrade succeeded (false: unknown or failed)
 * @param {LastAction | null} ctx.lastAction
 * @param {number} ctx.now
 * @param {number} ctx.windowMs     how recent an action must be to be blamed
 * @param {number | null} [ctx.httpStatus]  the refused upgrade's HTTP status, when known
 * @param {string} [ctx.error]      the transport's error message, when there was one
 * @returns {CloseReason}
 */
export function silentCloseReason(ctx) {
  if (ctx.httpStatus === 401 || ctx.httpStatus === 403) {
    return {
      kind: "auth",
      code: "http-" + ctx.httpStatus,
      message: `the endpoint refused the WebSocket upgrade with HTTP ${ctx.httpStatus}: the credentials were refused (expired or badly signed URL, or the authorizer denied)`,
    };
  }
  if (ctx.httpStatus) {
    return {
      kind: "network",
      code: "http-" + ctx.httpStatus,
      message: `the endpoint refused the WebSocket upgrade with HTTP ${ctx.httpStatus}: check the URL`,
    };
  }
  if (!ctx.connected) {
    if (ctx.opened) {
      return {
        kind: "auth",
        code: "closed-before-connack",
        message:
          "the server closed the connection before CONNACK: IoT Core does this when the authorizer denies the connection or the policy does not allow iot:Connect for this client id",
      };
    }
    return {
      kind: "network",
      code: "no-connection",
      message:
        "could not open the WebSocket" +
        (ctx.error ? ` (${ctx.error})` : "") +
        ": the network is down, the URL is wrong, or the endpoint refused the upgrade",
    };
  }
  const a = ctx.lastAction;
  if (a && ctx.now - a.at <= ctx.windowMs) {
    return {
      kind: "policy",
      code: a.kind + "-forbidden",
      topic: a.topic,
      message: `the server closed the connection right after the ${a.kind.toUpperCase()} to ${a.topic}: not allowed by your policy: ${a.topic}`,
    };
  }
  return {
    kind: "network",
    code: "connection-lost",
    message:
      "the connection was closed" +
      (ctx.error ? ` (${ctx.error})` : "") +
      ": network change, keep-alive timeout, or a policy refresh that denied the token",
  };
}

/**
 * True when a SUBACK return code refuses the filter: 0x80 in MQTT 3.1.1, >= 0x80 in MQTT 5.
 * @param {unknown} code
 */
export function isRefusedSuback(code) {
  return typeof code === "number" && code >= 0x80;
}

/**
 * A SUBACK refusal as a sentence naming the filter.
 * @param {string} topic
 * @param {number} code
 */
export function subackMessage(topic, code) {
  const name = code === 0x80 ? "refused" : REASON_V5[code] || "refused";
  return `subscribe to ${topic} refused (SUBACK 0x${code.toString(16)}, ${name}): not allowed by your policy: ${topic}`;
}
