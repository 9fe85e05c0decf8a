/**
 * iotws browser client: MQTT over WebSockets to AWS IoT Core (or `iotws emulate`) that
 * lasts. One object per logical connection; underneath, one MQTT.js client per network
 * connection, each with fresh credentials:
 *
 * - `connect()`: the custom-authorizer path. `getToken()` is called before every connection
 *   attempt; the token travels in the query string (browsers cannot set WebSocket headers).
 * - `connectGuest()`: the Cognito path. Guest credentials are fetched (and refreshed when
 *   they are near expiry), and every attempt gets a freshly presigned URL.
 *
 * It reconnects before the token's `exp`, before the authorizer's session end
 * (`sessionSeconds`, the authorizer's `disconnectAfterInSeconds`), and after any drop, with
 * exponential backoff and jitter; it resubscribes when the server did not keep the session;
 * it asks for a persistent session (`clean: false`) so QoS 1 messages sent while the page was
 * away arrive after the reconnect; it reports every close with a readable reason; and it stops
 * after `maxAuthFailures` authorization failures in a row instead of looping.
 *
 * Persistent sessions and their limits on AWS: "MQTT persistent sessions" in
 * https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html . Custom authorizer
 * session fields: https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-lambda.html
 */
import mqtt from "mqtt";
import { connackReason, disconnectReason, isRefusedSuback, silentCloseReason, subackMessage } from "./reasons.js";
import { presignWssUrl } from "./presign.js";
import { guestCredentials } from "./cognito.js";

export { presignWssUrl, splitEndpoint, rfc3986 } from "./presign.js";
export { guestCredentials, CognitoError } from "./cognito.js";
export { connackReason, disconnectReason, silentCloseReason, subackMessage, isRefusedSuback } from "./reasons.js";

const AUTHORIZER_PARAM = "x-amz-customauthorizer-name";
// IoT allows one CONNECT per second per client id ("AWS IoT Core quotas").
const MIN_RECONNECT_MS = 1000;
// A connection that stayed up this long resets the backoff.
const STABLE_MS = 30_000;

/**
 * @typedef {import("./reasons.js").CloseReason} CloseReason
 * @typedef {import("./reasons.js").LastAction} LastAction
 * @typedef {import("./presign.js").AwsCredentials} AwsCredentials
 * @typedef {import("./cognito.js").GuestCredentials} GuestCredentials
 *
 * @typedef {string | { token: string, expiresAt?: number } | null | undefined} TokenResult
 *   a token, or a token and its expiry in ms since the epoch (for tokens that are not JWTs)
 *
 * @typedef {object} CommonOptions
 * @property {string | ((info: { sub: string | null }) => string)} [clientId]
 *   fixed for the life of the object, so a persistent session can be resumed
 * @property {4 | 5} [protocolVersion]      MQTT 3.1.1 (4, default) or 5
 * @property {boolean} [clean]              false (default): persistent session
 * @property {number} [sessionExpirySeconds] MQTT 5 session expiry (default 3600, IoT's default)
 * @property {number} [keepalive]           seconds (default 60; IoT uses 30..1200)
 * @property {number} [connectTimeoutMs]    default 10000
 * @property {number} [renewBeforeSeconds]  reconnect this long before expiry (default 60)
 * @property {number} [sessionSeconds]      the server's hard session limit (authorizer's
 *                                          disconnectAfterInSeconds; guests: 86400)
 * @property {number} [maxAuthFailures]     give up after this many in a row (default 3)
 * @property {number} [initialBackoffMs]    default 1000
 * @property {number} [maxBackoffMs]        default 60000
 * @property {number} [blameWindowMs]       a close this soon after SUBSCRIBE/PUBLISH blames it (3000)
 * @property {boolean} [autoStart]          connect at once (default true)
 * @property {any} [mqtt]                   MQTT.js (default: the imported one)
 * @property {() => number} [now]           clock seam for tests
 * @property {() => number} [random]        jitter seam for tests
 *
 * @typedef {CommonOptions & {
 *   url: string,
 *   authorizerName?: string,
 *   tokenKeyName?: string,
 *   getToken?: () => TokenResult | Promise<TokenResult>,
 * }} ConnectOptions
 *
 * @typedef {CommonOptions & {
 *   endpoint: string,
 *   region: string,
 *   identityPoolId?: string,
 *   cognitoEndpoint?: string,
 *   getCredentials?: () => Promise<GuestCredentials>,
 *   storage?: import("./cognito.js").CognitoOptions["storage"],
 * }} GuestOptions
 *
 * @typedef {object} Credentials  what one connection attempt uses
 * @property {string} url
 * @property {number | null} expiresAt   ms; the connection must be renewed before this
 * @property {string | null} sub         the token's subject (for client ids)
 * @property {string} [safeUrl]         the URL to show, credentials replaced
 * @property {string} [identityId]      Cognito guests
 * @property {string} [accessKeyId]     Cognito guests
 *
 * @typedef {{ ok: true, topic: string, qos: number } | { ok: false, topic: string, reason: string }} SubscribeResult
 * @typedef {{ ok: true, topic: string } | { ok: false, topic: string, reason: string }} PublishResult
 *
 * @typedef {"idle" | "connecting" | "connected" | "reconnecting" | "waiting" | "closed" | "stopped"} State
 */

/**
 * The claims of a JWT, unverified (the authorizer verifies): only to read `exp` and `sub`.
 * @param {string} token
 * @returns {Record<string, unknown> | null}
 */
export function jwtClaims(token) {
  const parts = String(token || "").split(".");
  if (parts.length !== 3) return null;
  try {
    let b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/**
 * `<url>?x-amz-customauthorizer-name=<name>&<tokenKeyName>=<token>`, every value encoded.
 * @param {string} url
 * @param {string | undefined} authorizerName
 * @param {string | undefined} tokenKeyName
 * @param {string | null} token
 */
export function authorizerUrl(url, authorizerName, tokenKeyName, token) {
  const parts = [];
  if (authorizerName) parts.push(AUTHORIZER_PARAM + "=" + encodeURIComponent(authorizerName));
  if (token) parts.push(encodeURIComponent(tokenKeyName || "token") + "=" + encodeURIComponent(token));
  if (!parts.length) return url;
  return url + (url.includes("?") ? "&" : "?") + parts.join("&");
}

/**
 * The URL with credentials replaced, safe to show and log.
 * @param {string} url
 */
export function redactUrl(url) {
  return url.replace(/([?&](?:token|[A-Za-z0-9_-]*[Tt]oken|X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential)=)[^&]*/g, "$1<redacted>");
}

/** @param {unknown} err */
function messageOf(err) {
  if (err && typeof err === "object" && "message" in err && typeof err.message === "string") return err.message;
  return String(err);
}

/**
 * @param {unknown} value
 * @param {string} name
 * @param {number} min
 */
function checkNumber(value, name, min) {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new TypeError(`iotws: option ${name} must be a number >= ${min} (got ${String(value)})`);
  }
}

/**
 * One logical connection that survives token expiry, session limits and drops.
 */
export class IotwsConnection {
  /**
   * @param {(conn: IotwsConnection) => Promise<Credentials>} credentials
   * @param {CommonOptions} opts
   */
  constructor(credentials, opts) {
    for (const [k, min] of /** @type {[keyof CommonOptions, number][]} */ ([
      ["keepalive", 0],
      ["connectTimeoutMs", 1],
      ["renewBeforeSeconds", 0],
      ["sessionSeconds", 1],
      ["maxAuthFailures", 1],
      ["initialBackoffMs", 0],
      ["maxBackoffMs", 0],
      ["blameWindowMs", 0],
      ["sessionExpirySeconds", 0],
    ])) {
      checkNumber(opts[k], k, min);
    }
    if (opts.protocolVersion !== undefined && opts.protocolVersion !== 4 && opts.protocolVersion !== 5) {
      throw new TypeError("iotws: option protocolVersion must be 4 (MQTT 3.1.1) or 5");
    }
    this._credentials = credentials;
    this.opts = opts;
    this._mqtt = opts.mqtt || mqtt;
    if (!this._mqtt || typeof this._mqtt.connect !== "function") {
      throw new TypeError("iotws: MQTT.js is missing (load mqtt.min.js before iotws-client.js)");
    }
    this._now = opts.now || Date.now;
    this._random = opts.random || Math.random;
    /** @type {State} */
    this.state = "idle";
    /** @type {string | null} */
    this.clientId = typeof opts.clientId === "string" ? opts.clientId : null;
    /** @type {string | null} the last URL, credentials redacted */
    this.url = null;
    /** @type {Credentials | null} */
    this.credentials = null;
    /** @type {CloseReason | null} */
    this.lastClose = null;
    /** how many network connections were made (CONNACK accepted) */
    this.connections = 0;
    /** how many times guest credentials were fetched (connectGuest only) */
    this.credentialsFetched = 0;
    /** @type {Map<string, { qos: 0 | 1, status: "pending" | "granted" | "refused", reason?: string }>} */
    this.subscriptions = new Map();
    /** @type {Map<string, Set<(ev: any) => void>>} */
    this._listeners = new Map();
    /** @type {any} the current MQTT.js client */
    this._client = null;
    /** @type {any} */
    this._ctx = null;
    this._failures = 0;
    this._authFailures = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._retryTimer = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._renewTimer = null;
    /** @type {Promise<Credentials> | null} */
    this._prefetch = null;
    this._ended = false;
    this._started = false;
    /** @type {Map<string, Array<(r: SubscribeResult) => void>>} */
    this._subWaiters = new Map();
    if (opts.autoStart !== false) this.start();
  }

  // ------------------------------------------------------------------ events

  /**
   * Listen to an event: "state", "connect", "message", "close", "error", "subscribe", "stopped".
   * @param {string} name
   * @param {(ev: any) => void} fn
   * @returns {() => void} a function that removes the listener
   */
  on(name, fn) {
    let set = this._listeners.get(name);
    if (!set) this._listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  /**
   * @param {string} name
   * @param {(ev: any) => void} fn
   */
  off(name, fn) {
    this._listeners.get(name)?.delete(fn);
  }

  /**
   * @param {string} name
   * @param {any} ev
   */
  _emit(name, ev) {
    for (const fn of [...(this._listeners.get(name) || [])]) {
      try {
        fn(ev);
      } catch (err) {
        // A listener's bug must not break the reconnect loop.
        if (typeof console !== "undefined") console.error(`iotws: a "${name}" listener threw`, err);
      }
    }
  }

  /**
   * @param {State} state
   * @param {string} [detail]
   */
  _setState(state, detail) {
    this.state = state;
    this._emit("state", { state, detail: detail || "" });
  }

  /**
   * @param {string} code
   * @param {string} message
   * @param {string} [topic]
   */
  _error(code, message, topic) {
    this._emit("error", { code, message, topic: topic || null, at: this._now() });
  }

  // ------------------------------------------------------------------ lifecycle

  /** Start connecting (done by the constructor unless `autoStart: false`). */
  start() {
    if (this.state !== "idle" || this._started) return;
    this._started = true;
    // Next microtask: listeners added right after connect() see the first "state" event.
    Promise.resolve().then(() => this._attempt(null));
  }

  /**
   * One connection attempt, with prefetched credentials or fresh ones.
   * @param {Promise<Credentials> | null} prefetched
   */
  async _attempt(prefetched) {
    if (this._ended) return;
    this._setState(this.connections === 0 && this._failures === 0 ? "connecting" : "reconnecting");
    /** @type {Credentials} */
    let creds;
    try {
      creds = await (prefetched || this._credentials(this));
    } catch (err) {
      if (this._ended) return;
      const reason = /** @type {CloseReason} */ ({ kind: "auth", code: "credentials", message: messageOf(err) });
      this._error("credentials", reason.message);
      this._afterFailure(reason);
      return;
    }
    if (this._ended) return;
    this.credentials = creds;
    if (this.clientId === null) {
      const cid = this.opts.clientId;
      this.clientId = typeof cid === "function" ? cid({ sub: creds.sub }) : "iotws-" + randomHex(8);
    }
    this.url = creds.safeUrl || redactUrl(creds.url);
    this._open(creds);
  }

  /** @param {Credentials} creds */
  _open(creds) {
    const o = this.opts;
    const version = o.protocolVersion || 4;
    const ctx = {
      client: /** @type {any} */ (null),
      connected: false,
      opened: false,
      closed: false,
      renewing: false,
      connectedAt: 0,
      /** @type {LastAction | null} */ lastAction: null,
      /** @type {CloseReason | null} */ reason: null,
      /** @type {number | null} */ httpStatus: null,
      /** @type {string} */ error: "",
      /** @type {Map<string, (r: PublishResult) => void>} */ publishes: new Map(),
    };
    this._ctx = ctx;
    /** @type {any} */
    const mqttOpts = {
      clientId: this.clientId,
      protocolVersion: version,
      clean: o.clean === true,
      keepalive: o.keepalive ?? 60,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: 0, // reconnects are ours: each one needs fresh credentials
      resubscribe: false, // ours too: a refused filter must not be retried forever
      queueQoSZero: false,
      transformWsUrl: () => creds.url, // exactly our URL, not one rebuilt from its parts
    };
    if (version === 5 && o.clean !== true) {
      mqttOpts.properties = { sessionExpiryInterval: o.sessionExpirySeconds ?? 3600 };
    }
    if (typeof WebSocket === "function") {
      // Browsers: tell "the upgrade failed" from "opened, then closed before CONNACK".
      mqttOpts.createWebsocket = (/** @type {string} */ url, /** @type {string[]} */ protocols) => {
        const ws = new WebSocket(url, protocols);
        ws.addEventListener("open", () => {
          ctx.opened = true;
        });
        return ws;
      };
    }
    let client;
    try {
      client = this._mqtt.connect(creds.url, mqttOpts);
    } catch (err) {
      const reason = /** @type {CloseReason} */ ({ kind: "network", code: "bad-url", message: `cannot connect to ${redactUrl(creds.url)}: ${messageOf(err)}` });
      this._error("connection", reason.message);
      this._afterFailure(reason);
      return;
    }
    ctx.client = client;
    this._client = client;

    client.on("connect", (/** @type {any} */ connack) => this._onConnect(ctx, connack));
    client.on("message", (/** @type {string} */ topic, /** @type {Uint8Array} */ payload, /** @type {any} */ packet) => {
      this._emit("message", {
        topic,
        payload,
        text: new TextDecoder().decode(payload),
        qos: packet?.qos ?? 0,
        retain: !!packet?.retain,
        packet,
      });
    });
    /** @param {any} err */
    const onTransportError = (err) => {
      const text = messageOf(err);
      // Node's `ws` says why an upgrade failed; browsers never expose the HTTP status.
      const m = /Unexpected server response: (\d{3})/.exec(text);
      if (m) ctx.httpStatus = Number(m[1]);
      ctx.error = text;
    };
    client.on("error", (/** @type {any} */ err) => {
      const code = err && typeof err.code === "number" ? err.code : null;
      if (code !== null && !ctx.connected) {
        ctx.reason = connackReason(code, version);
        return;
      }
      onTransportError(err);
    });
    // MQTT.js drops stream errors that carry no `code` (a refused upgrade among them).
    if (client.stream && typeof client.stream.on === "function") client.stream.on("error", onTransportError);
    client.on("disconnect", (/** @type {any} */ packet) => {
      const rc = packet && typeof packet.reasonCode === "number" ? packet.reasonCode : 0;
      ctx.reason = disconnectReason(rc);
      // After a server's DISCONNECT the network connection is over (MQTT 5, 3.14).
      client.end(true);
    });
    client.on("close", () => this._onClose(ctx));
  }

  /**
   * @param {any} ctx
   * @param {any} connack
   */
  _onConnect(ctx, connack) {
    if (ctx !== this._ctx || this._ended) return;
    ctx.connected = true;
    ctx.connectedAt = this._now();
    this.connections += 1;
    this._authFailures = 0;
    const sessionPresent = !!(connack && connack.sessionPresent);
    this._setState("connected");
    this._emit("connect", { sessionPresent, clientId: this.clientId, connections: this.connections });
    for (const [topic, sub] of this.subscriptions) {
      if (sub.status === "refused") continue;
      // A resumed session still holds the granted subscriptions; send the others.
      if (sessionPresent && sub.status === "granted") continue;
      this._sendSubscribe(topic, sub.qos);
    }
    this._scheduleRenewal(ctx);
  }

  /** @param {any} ctx */
  _scheduleRenewal(ctx) {
    this._clearRenewal();
    const o = this.opts;
    const now = this._now();
    const before = (o.renewBeforeSeconds ?? 60) * 1000;
    const deadlines = [];
    const exp = this.credentials?.expiresAt;
    if (exp) deadlines.push(exp);
    if (o.sessionSeconds) deadlines.push(ctx.connectedAt + o.sessionSeconds * 1000);
    if (!deadlines.length) return;
    const deadline = Math.min(...deadlines);
    // Renew `before` ahead of the deadline (at most half the time left), minus up to 10 %
    // jitter so that many pages with tokens from the same moment do not reconnect together.
    const lead = Math.min(before, Math.max(0, (deadline - now) / 2));
    const delay = Math.max(MIN_RECONNECT_MS, deadline - now - lead - this._random() * lead * 0.1);
    this._renewTimer = setTimeout(() => this._renew(ctx), delay);
  }

  _clearRenewal() {
    if (this._renewTimer) clearTimeout(this._renewTimer);
    this._renewTimer = null;
  }

  /**
   * Planned reconnect before expiry: fetch the new credentials while still connected, then
   * close and reconnect at once; the persistent session keeps what arrives in between.
   * @param {any} ctx
   */
  async _renew(ctx) {
    if (ctx !== this._ctx || this._ended || ctx.closed) return;
    const pending = this._credentials(this);
    this._prefetch = pending;
    // Keep the promise handled even if the connection drops before it settles.
    pending.catch(() => {});
    try {
      await pending;
    } catch (err) {
      // Keep the working connection: try again shortly; the server's deadline still ends it.
      if (ctx !== this._ctx || this._ended || ctx.closed) return;
      this._prefetch = null;
      this._error("credentials", `renewing before expiry: ${messageOf(err)}`);
      this._renewTimer = setTimeout(() => this._renew(ctx), 5000 + this._random() * 5000);
      return;
    }
    if (ctx !== this._ctx || this._ended || ctx.closed) return;
    ctx.renewing = true;
    this._emit("renew", { reason: "credentials or session near expiry" });
    ctx.client.end(false);
  }

  /** @param {any} ctx */
  _onClose(ctx) {
    if (ctx.closed) return;
    ctx.closed = true;
    if (ctx !== this._ctx) return;
    this._clearRenewal();
    const now = this._now();
    const reason =
      ctx.reason ||
      silentCloseReason({
        connected: ctx.connected,
        opened: ctx.opened,
        lastAction: ctx.lastAction,
        now,
        windowMs: this.opts.blameWindowMs ?? 3000,
        httpStatus: ctx.httpStatus,
        error: ctx.error,
      });
    // In-flight work of this connection: answered, never left hanging.
    for (const [topic, done] of ctx.publishes) done({ ok: false, topic, reason: "connection closed before PUBACK: " + reason.message });
    ctx.publishes.clear();
    for (const [topic, sub] of this.subscriptions) {
      if (sub.status !== "pending") continue;
      if (reason.kind === "policy" && reason.topic === topic && ctx.lastAction?.kind === "subscribe") {
        sub.status = "refused";
        sub.reason = reason.message;
        this._settleSub(topic, { ok: false, topic, reason: reason.message });
        this._emit("subscribe", { topic, granted: false, reason: reason.message });
      }
    }
    if (this._ended) {
      this.lastClose = { kind: "client", code: "ended", message: "closed by the page" };
      this._setState("closed");
      this._emit("close", { ...this.lastClose, willRetry: false, retryInMs: 0 });
      return;
    }
    if (ctx.renewing) {
      this.lastClose = { kind: "session-end", code: "renew", message: "reconnecting with fresh credentials before they expire" };
      this._emit("close", { ...this.lastClose, willRetry: true, retryInMs: 0 });
      const pending = this._prefetch;
      this._prefetch = null;
      this._attempt(pending);
      return;
    }
    if (ctx.connected && now - ctx.connectedAt >= STABLE_MS) this._failures = 0;
    this._afterFailure(reason);
  }

  /**
   * Decide what comes after a failed or ended connection: retry later, or stop.
   * @param {CloseReason} reason
   */
  _afterFailure(reason) {
    this.lastClose = reason;
    // Credentials already being fetched for a renewal serve the next attempt.
    const pending = this._prefetch;
    this._prefetch = null;
    if (reason.kind === "auth") this._authFailures += 1;
    const max = this.opts.maxAuthFailures ?? 3;
    if (reason.kind === "auth" && this._authFailures >= max) {
      return this._stop(reason, `gave up after ${this._authFailures} authorization failures in a row; the last one: ${reason.message}. Sign in again or check the token, then reconnect.`);
    }
    if (reason.kind === "taken-over") {
      return this._stop(reason, `not reconnecting: ${reason.message} (another tab or device uses client id ${this.clientId}; reconnecting would make the two take turns)`);
    }
    let delay;
    if (reason.kind === "session-end") {
      delay = MIN_RECONNECT_MS + this._random() * MIN_RECONNECT_MS;
    } else {
      const initial = this.opts.initialBackoffMs ?? 1000;
      const cap = this.opts.maxBackoffMs ?? 60_000;
      const base = Math.min(cap, initial * 2 ** this._failures);
      // "Equal jitter": half fixed, half random, so a retry is never immediate; never sooner
      // than IoT's one CONNECT per second per client id (unless told so, e.g. in tests).
      delay = Math.max(Math.min(MIN_RECONNECT_MS, initial), base / 2 + (this._random() * base) / 2);
      this._failures += 1;
    }
    this._emit("close", { ...reason, willRetry: true, retryInMs: Math.round(delay) });
    if (this._ended) return; // a "close" listener called end()
    this._setState("waiting", `${reason.message}; reconnecting in ${Math.ceil(delay / 1000)} s`);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._attempt(pending);
    }, delay);
  }

  /**
   * @param {CloseReason} reason
   * @param {string} message
   */
  _stop(reason, message) {
    this._ended = true;
    this._clearRenewal();
    this._emit("close", { ...reason, willRetry: false, retryInMs: 0 });
    this._setState("stopped", message);
    this._emit("stopped", { kind: reason.kind, code: reason.code, message });
    for (const topic of [...this._subWaiters.keys()]) this._settleSub(topic, { ok: false, topic, reason: message });
  }

  /**
   * Close for good (no reconnect).
   * @returns {Promise<void>}
   */
  end() {
    this._ended = true;
    this._clearRenewal();
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const client = this._client;
    const ctx = this._ctx;
    if (!client || !ctx || ctx.closed) {
      if (this.state !== "stopped") this._setState("closed");
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      client.end(false, {}, () => resolve());
    });
  }

  // ------------------------------------------------------------------ pub/sub

  /**
   * Subscribe now (or on the next connection); kept across reconnects until refused.
   * Resolves (never rejects) with the outcome.
   * @param {string} topic
   * @param {{ qos?: 0 | 1 }} [options]
   * @returns {Promise<SubscribeResult>}
   */
  subscribe(topic, options = {}) {
    const qos = options.qos === 0 ? 0 : 1;
    if (typeof topic !== "string" || !topic) {
      return Promise.resolve({ ok: false, topic: String(topic), reason: "subscribe needs a topic filter" });
    }
    if (this._ended) return Promise.resolve({ ok: false, topic, reason: "the connection is closed" });
    this.subscriptions.set(topic, { qos, status: "pending" });
    const result = new Promise((resolve) => {
      const list = this._subWaiters.get(topic) || [];
      list.push(resolve);
      this._subWaiters.set(topic, list);
    });
    if (this.state === "connected") this._sendSubscribe(topic, qos);
    return /** @type {Promise<SubscribeResult>} */ (result);
  }

  /**
   * @param {string} topic
   * @param {SubscribeResult} result
   */
  _settleSub(topic, result) {
    const list = this._subWaiters.get(topic);
    this._subWaiters.delete(topic);
    for (const resolve of list || []) resolve(result);
  }

  /**
   * @param {string} topic
   * @param {0 | 1} qos
   */
  _sendSubscribe(topic, qos) {
    const ctx = this._ctx;
    const sub = this.subscriptions.get(topic);
    if (sub) sub.status = "pending";
    ctx.lastAction = { kind: "subscribe", topic, at: this._now() };
    ctx.client.subscribe(topic, { qos }, (/** @type {any} */ err, /** @type {any} */ granted, /** @type {any} */ suback) => {
      if (ctx !== this._ctx) return;
      const codes = suback && Array.isArray(suback.granted) ? suback.granted : (granted || []).map((/** @type {any} */ g) => g.qos);
      const current = this.subscriptions.get(topic);
      if (!current) return;
      const refused = codes.find(isRefusedSuback);
      if (refused !== undefined) {
        const reason = subackMessage(topic, refused);
        current.status = "refused";
        current.reason = reason;
        this._error("subscribe", reason, topic);
        this._emit("subscribe", { topic, granted: false, reason });
        this._settleSub(topic, { ok: false, topic, reason });
      } else if (err) {
        // Not a refusal by the server: the connection went away before the SUBACK. The
        // filter stays wanted and is sent again on the next connection.
        return;
      } else {
        current.status = "granted";
        delete current.reason;
        const q = typeof codes[0] === "number" ? codes[0] : qos;
        this._emit("subscribe", { topic, granted: true, qos: q });
        this._settleSub(topic, { ok: true, topic, qos: q });
      }
    });
  }

  /**
   * @param {string} topic
   * @returns {Promise<void>}
   */
  unsubscribe(topic) {
    this.subscriptions.delete(topic);
    this._settleSub(topic, { ok: false, topic, reason: "unsubscribed" });
    const client = this._client;
    if (this.state !== "connected" || !client) return Promise.resolve();
    return new Promise((resolve) => client.unsubscribe(topic, () => resolve()));
  }

  /**
   * Publish on the current connection. QoS 1 resolves on PUBACK; a publish made while not
   * connected, or cut off by a drop, resolves with `ok: false` (it is not resent, because a
   * forbidden publish would close every new connection). Never rejects.
   * @param {string} topic
   * @param {string | Uint8Array} payload
   * @param {{ qos?: 0 | 1, retain?: boolean }} [options]
   * @returns {Promise<PublishResult>}
   */
  publish(topic, payload, options = {}) {
    const qos = options.qos === 1 ? 1 : 0;
    const ctx = this._ctx;
    if (this.state !== "connected" || !ctx || ctx.closed) {
      const reason = `not connected (${this.state}): cannot publish to ${topic}`;
      this._error("publish", reason, topic);
      return Promise.resolve({ ok: false, topic, reason });
    }
    if (/[+#]/.test(topic) || !topic) {
      const reason = `cannot publish to ${JSON.stringify(topic)}: a topic name has no wildcards and is not empty`;
      this._error("publish", reason, topic);
      return Promise.resolve({ ok: false, topic, reason });
    }
    ctx.lastAction = { kind: "publish", topic, at: this._now() };
    return new Promise((resolve) => {
      const key = topic + "\u0000" + Math.random();
      ctx.publishes.set(key, (/** @type {PublishResult} */ r) => resolve({ ...r, topic }));
      ctx.client.publish(topic, payload, { qos, retain: !!options.retain }, (/** @type {any} */ err) => {
        if (!ctx.publishes.delete(key)) return;
        if (err) {
          const reason = `publish to ${topic} failed: ${messageOf(err)}`;
          this._error("publish", reason, topic);
          resolve({ ok: false, topic, reason });
        } else {
          resolve({ ok: true, topic });
        }
      });
    });
  }
}

/** @param {number} n */
function randomHex(n) {
  const bytes = new Uint8Array(Math.ceil(n / 2));
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
}

/**
 * The custom-authorizer path.
 * @param {ConnectOptions} options
 * @returns {IotwsConnection}
 */
export function connect(options) {
  const o = options || /** @type {ConnectOptions} */ ({});
  if (typeof o.url !== "string" || !/^wss?:\/\//i.test(o.url)) {
    throw new TypeError(`iotws.connect: option url must be a ws:// or wss:// URL (got ${JSON.stringify(o.url)})`);
  }
  if (o.getToken !== undefined && typeof o.getToken !== "function") {
    throw new TypeError("iotws.connect: option getToken must be a function that returns the token (or a promise of it)");
  }
  const getToken = o.getToken;
  return new IotwsConnection(async (conn) => {
    /** @type {string | null} */
    let token = null;
    /** @type {number | null} */
    let expiresAt = null;
    if (getToken) {
      /** @type {TokenResult} */
      let got;
      try {
        got = await getToken();
      } catch (err) {
        throw new Error(`getToken() failed: ${messageOf(err)}`);
      }
      if (got && typeof got === "object") {
        token = typeof got.token === "string" ? got.token : null;
        expiresAt = typeof got.expiresAt === "number" ? got.expiresAt : null;
      } else if (typeof got === "string") {
        token = got;
      }
      if (!token) throw new Error("getToken() returned no token: it must return the token string (or { token, expiresAt })");
    }
    const claims = token ? jwtClaims(token) : null;
    if (expiresAt === null && claims && typeof claims.exp === "number") expiresAt = claims.exp * 1000;
    if (expiresAt !== null && expiresAt <= conn._now()) {
      throw new Error(`getToken() returned a token that expired at ${new Date(expiresAt).toISOString()}: return a fresh one`);
    }
    return {
      url: authorizerUrl(o.url, o.authorizerName, o.tokenKeyName, token),
      safeUrl: authorizerUrl(o.url, o.authorizerName, o.tokenKeyName, token ? "<redacted>" : null),
      expiresAt,
      sub: claims && typeof claims.sub === "string" ? claims.sub : null,
    };
  }, o);
}

/**
 * The Cognito guest path: guest credentials (refreshed before they expire) and a freshly
 * presigned URL for every connection. Guests' connections last at most 24 hours.
 * @param {GuestOptions} options
 * @returns {IotwsConnection}
 */
export function connectGuest(options) {
  const o = options || /** @type {GuestOptions} */ ({});
  if (!o.endpoint || !o.region) {
    throw new TypeError("iotws.connectGuest: options endpoint (the iot:Data-ATS host) and region are required");
  }
  if (!o.getCredentials && !o.identityPoolId) {
    throw new TypeError("iotws.connectGuest: option identityPoolId (or a getCredentials function) is required");
  }
  const fetchCreds =
    o.getCredentials ||
    (() =>
      guestCredentials({
        region: o.region,
        identityPoolId: /** @type {string} */ (o.identityPoolId),
        endpoint: o.cognitoEndpoint,
        storage: o.storage,
      }));
  /** @type {GuestCredentials | null} */
  let cached = null;
  const opts = { sessionSeconds: 86_400, ...o };
  const conn = new IotwsConnection(async (c) => {
    const margin = (opts.renewBeforeSeconds ?? 60) * 1000;
    if (!cached || cached.expiration - margin <= c._now()) {
      try {
        cached = await fetchCreds();
      } catch (err) {
        throw new Error(`guest credentials: ${messageOf(err)}`);
      }
      c.credentialsFetched += 1;
    }
    const url = await presignWssUrl({ endpoint: o.endpoint, region: o.region, credentials: cached, now: new Date(c._now()) });
    return { url, expiresAt: null, sub: cached.identityId, identityId: cached.identityId, accessKeyId: cached.accessKeyId };
  }, { ...opts, autoStart: false });
  if (o.autoStart !== false) conn.start();
  return conn;
}

