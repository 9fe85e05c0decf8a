/*
 * iotws Cognito guest example page: a browser with no account and no token gets guest
 * credentials from a Cognito identity pool, presigns a WebSocket URL with them and talks
 * MQTT to AWS IoT Core with MQTT.js. What the guest may do is the guest role's IAM policy,
 * rendered from access.yaml (IOT_FACTS section 6).
 *
 * Bundled by `make web` into ./vendor/app.js; MQTT.js is ./vendor/mqtt.min.js (global `mqtt`).
 *
 * Configuration: ./config.json (the Terraform output `web_config`), each key overridable
 * by a query parameter of the same name: region, identityPoolId, endpoint, prefix,
 * clientId (a rule such as "guest-{identity_id}"), subscribe, publish, cognitoEndpoint
 * (only for local tests against a Cognito stand-in).
 *
 * Test hooks: element ids (#status, #messages, #errors, ...) and `window.iotwsGuest`.
 */
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
} from "@aws-sdk/client-cognito-identity";
import { presignWssUrl } from "./presign.js";

const KEYS = [
  "region",
  "identityPoolId",
  "endpoint",
  "prefix",
  "clientId",
  "subscribe",
  "publish",
  "cognitoEndpoint",
];
const IDENTITY_KEY = "iotws.cognito.identityId";

const state = {
  state: "idle",
  connected: false,
  identityId: null,
  clientId: null,
  messages: [],
  errors: [],
};
window.iotwsGuest = state;

const $ = (id) => document.getElementById(id);

function setStatus(text) {
  state.state = text;
  $("status").textContent = text;
  $("status").dataset.state = text;
}

function fail(err) {
  const text = String((err && err.message) || err);
  state.errors.push(text);
  const li = document.createElement("li");
  li.textContent = text;
  $("errors").prepend(li);
  setStatus("error");
}

async function loadConfig() {
  let file = {};
  try {
    const res = await fetch("./config.json", { cache: "no-store" });
    if (res.ok) file = await res.json();
  } catch {
    // No config.json: everything comes from the query string.
  }
  const params = new URLSearchParams(window.location.search);
  const cfg = {};
  for (const k of KEYS) {
    const q = params.get(k);
    const v = file[k];
    cfg[k] = q !== null && q !== "" ? q : Array.isArray(v) ? v[0] || "" : v || "";
  }
  cfg.clientId = cfg.clientId || "{identity_id}";
  for (const k of ["region", "identityPoolId", "endpoint"]) {
    if (!cfg[k]) throw new Error(`missing ${k}: set it in config.json or ?${k}=`);
  }
  return cfg;
}

/** "{identity_id}" placeholders -> this guest's identity id. */
function fill(text, identityId) {
  return String(text).split("{identity_id}").join(identityId);
}

/** Cognito enhanced flow: GetId, then GetCredentialsForIdentity (IOT_FACTS section 6). */
async function guestCredentials(cfg) {
  const cognito = new CognitoIdentityClient({
    region: cfg.region,
    ...(cfg.cognitoEndpoint ? { endpoint: cfg.cognitoEndpoint } : {}),
  });
  // Reuse the identity id across reloads so the guest keeps its client id and topics.
  let identityId = window.localStorage.getItem(IDENTITY_KEY);
  if (!identityId) {
    const got = await cognito.send(new GetIdCommand({ IdentityPoolId: cfg.identityPoolId }));
    identityId = got.IdentityId;
  }
  let res;
  try {
    res = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId: identityId }));
  } catch (err) {
    // A stored id from another pool or a deleted identity: start over once.
    window.localStorage.removeItem(IDENTITY_KEY);
    const got = await cognito.send(new GetIdCommand({ IdentityPoolId: cfg.identityPoolId }));
    identityId = got.IdentityId;
    res = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId: identityId }));
  }
  window.localStorage.setItem(IDENTITY_KEY, identityId);
  // The SDK returns the API's member names (AccessKeyId, SecretKey, SessionToken);
  // presignWssUrl takes the SDK credential names.
  const c = res.Credentials || {};
  return {
    identityId,
    credentials: { accessKeyId: c.AccessKeyId, secretKey: c.SecretKey, sessionToken: c.SessionToken },
  };
}

let client = null;

async function connect() {
  const cfg = await loadConfig();
  setStatus("getting guest credentials");
  const { identityId, credentials } = await guestCredentials(cfg);
  state.identityId = identityId;
  state.clientId = fill(cfg.clientId.replace(/\*$/, Date.now().toString(36)), identityId);
  $("identity-id").textContent = identityId;
  $("client-id").textContent = state.clientId;
  const url = await presignWssUrl({
    endpoint: cfg.endpoint,
    region: cfg.region,
    credentials,
  });
  $("ws-url").textContent = url.replace(/X-Amz-Security-Token=[^&]*/, "X-Amz-Security-Token=<redacted>");
  setStatus("connecting");
  // eslint-disable-next-line no-undef
  client = mqtt.connect(url, {
    clientId: state.clientId,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0, // presigned URLs and credentials expire: reconnect with new ones
    connectTimeout: 10_000,
  });
  client.on("connect", () => {
    state.connected = true;
    setStatus("connected");
    $("disconnect-btn").disabled = false;
    const topic = fill(cfg.subscribe, identityId);
    if (topic) {
      $("subscribe-topic").value = topic;
      subscribe(topic);
    }
    $("publish-topic").value = fill(cfg.publish, identityId);
  });
  client.on("message", (topic, payload) => {
    const text = new TextDecoder().decode(payload);
    state.messages.push({ topic, payload: text });
    const li = document.createElement("li");
    li.textContent = `${topic}: ${text}`;
    $("messages").prepend(li);
  });
  client.on("error", fail);
  client.on("close", () => {
    state.connected = false;
    $("disconnect-btn").disabled = true;
    if (state.state !== "error") setStatus("closed");
  });
}

function subscribe(topic) {
  client.subscribe(topic, { qos: 0 }, (err, granted) => {
    // IoT answers a refused SUBSCRIBE with return code 128 (0x80).
    if (err || !granted || granted.some((g) => g.qos === 128)) {
      fail(new Error(`subscribe to ${topic} was refused`));
    }
  });
}

function wire() {
  $("connect-form").addEventListener("submit", (e) => {
    e.preventDefault();
    connect().catch(fail);
  });
  $("disconnect-btn").addEventListener("click", () => client && client.end());
  $("subscribe-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (client) subscribe($("subscribe-topic").value);
  });
  $("publish-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (client) client.publish($("publish-topic").value, $("publish-payload").value, { qos: 0 });
  });
  if (new URLSearchParams(window.location.search).get("autoconnect") === "1") {
    connect().catch(fail);
  }
}

wire();
