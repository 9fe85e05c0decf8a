// connectGuest (Cognito path), the presigner and the guest-credential calls, and the
// readable-reason tables.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  connectGuest,
  guestCredentials,
  presignWssUrl,
  connackReason,
  disconnectReason,
  silentCloseReason,
  subackMessage,
  jwtClaims,
  authorizerUrl,
  redactUrl,
} from "../../client/index.js";
import { startBroker, until, fakeJwt, record } from "./fakebroker.mjs";

const rejections = [];
process.on("unhandledRejection", (err) => rejections.push(err));
after(() => assert.deepEqual(rejections, [], "unhandled promise rejections"));

const FAST = { initialBackoffMs: 50, maxBackoffMs: 200, connectTimeoutMs: 2000 };

test("connectGuest presigns each URL and refreshes expired credentials on reconnect", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  let n = 0;
  let offset = 0; // the client's clock runs `offset` ms ahead
  const lifetime = 3600_000;
  const getCredentials = async () => {
    n += 1;
    return { identityId: "us-east-1:guest", accessKeyId: `ASIAKEY${n}`, secretKey: "s", sessionToken: `tok${n}`, expiration: Date.now() + lifetime };
  };
  const conn = connectGuest({ endpoint: broker.url.replace("/mqtt", ""), region: "us-east-1", getCredentials, clientId: ({ sub }) => `guest-${sub.split(":")[1]}`, now: () => Date.now() + offset, ...FAST });
  t.after(() => conn.end());
  record(conn);
  await until(() => conn.state === "connected", 5000, "connected");
  const q0 = broker.conns[0].query;
  assert.match(q0.get("X-Amz-Credential"), /^ASIAKEY1\/\d{8}\/us-east-1\/iotdevicegateway\/aws4_request$/);
  assert.match(q0.get("X-Amz-Signature"), /^[0-9a-f]{64}$/);
  assert.equal(q0.get("X-Amz-Security-Token"), "tok1");
  assert.ok(broker.conns[0].url.endsWith("&X-Amz-Security-Token=tok1"), "session token after the signature");
  assert.equal(broker.conns[0].connect.clientId, "guest-guest");
  assert.ok(!conn.url.includes("tok1"), "the shown URL hides the session token");
  // still valid: reused, but a new presigned URL
  broker.conns[0].close();
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "reconnected");
  assert.equal(conn.credentialsFetched, 1);
  assert.equal(broker.conns[1].query.get("X-Amz-Credential").split("/")[0], "ASIAKEY1");
  // within renewBeforeSeconds (60 s) of expiry: fetched again before the next URL
  offset = lifetime - 30_000;
  broker.conns[1].close();
  await until(() => broker.conns.length === 3 && conn.state === "connected", 5000, "reconnected");
  assert.equal(broker.conns[2].query.get("X-Amz-Credential").split("/")[0], "ASIAKEY2");
  assert.equal(conn.credentialsFetched, 2);
});

test("connectGuest: Cognito refusing credentials is readable and ends in a stop", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const fetchStub = async () => new Response(JSON.stringify({ __type: "NotAuthorizedException", message: "Unauthenticated access is not supported for this identity pool." }), { status: 400 });
  const conn = connectGuest({ endpoint: "127.0.0.1:1", region: "us-east-1", identityPoolId: "us-east-1:p", storage: null, maxAuthFailures: 2, ...FAST });
  const origFetch = globalThis.fetch;
  globalThis.fetch = fetchStub;
  t.after(() => (globalThis.fetch = origFetch));
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "stopped", 5000, "stopped");
  assert.match(ev.error[0].message, /guest credentials: Cognito NotAuthorizedException: Unauthenticated access is not supported/);
});

test("guestCredentials: GetId then GetCredentialsForIdentity; the id is reused, and replaced once when unknown", async () => {
  const calls = [];
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  let known = new Set();
  const fetchStub = async (url, init) => {
    const op = init.headers["X-Amz-Target"].split(".")[1];
    const body = JSON.parse(init.body);
    calls.push(op);
    assert.equal(init.headers["Content-Type"], "application/x-amz-json-1.1");
    if (op === "GetId") {
      const id = `us-east-1:id${calls.length}`;
      known.add(id);
      return new Response(JSON.stringify({ IdentityId: id }));
    }
    if (!known.has(body.IdentityId)) return new Response(JSON.stringify({ __type: "ResourceNotFoundException", message: "nope" }), { status: 400 });
    return new Response(JSON.stringify({ IdentityId: body.IdentityId, Credentials: { AccessKeyId: "A", SecretKey: "S", SessionToken: "T", Expiration: 2000000000 } }));
  };
  const opts = { region: "us-east-1", identityPoolId: "us-east-1:pool", storage, fetch: fetchStub, endpoint: "http://127.0.0.1:9/cognito" };
  const first = await guestCredentials(opts);
  assert.deepEqual(calls, ["GetId", "GetCredentialsForIdentity"]);
  assert.equal(first.expiration, 2000000000 * 1000);
  await guestCredentials(opts);
  assert.deepEqual(calls.slice(2), ["GetCredentialsForIdentity"], "stored id reused");
  known = new Set(); // the pool forgot the identity
  const third = await guestCredentials(opts);
  assert.deepEqual(calls.slice(3), ["GetCredentialsForIdentity", "GetId", "GetCredentialsForIdentity"]);
  assert.equal(store.get("iotws.cognito.identityId"), third.identityId);
});

test("presignWssUrl: a known AWS SigV4 shape, token after the signature, bad input refused", async () => {
  const url = await presignWssUrl({
    endpoint: "abc-ats.iot.us-east-1.amazonaws.com",
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "a+b/c=" },
    now: new Date("2015-08-30T12:36:00Z"),
  });
  assert.match(url, /^wss:\/\/abc-ats\.iot\.us-east-1\.amazonaws\.com\/mqtt\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiotdevicegateway%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}&X-Amz-Security-Token=a%2Bb%2Fc%3D$/);
  await assert.rejects(presignWssUrl({ endpoint: "bad host/", region: "us-east-1", credentials: { accessKeyId: "A", secretKey: "S" } }), /not an IoT endpoint host/);
  await assert.rejects(presignWssUrl({ endpoint: "h", region: "Mars", credentials: { accessKeyId: "A", secretKey: "S" } }), /not an AWS region/);
  await assert.rejects(presignWssUrl({ endpoint: "h", region: "us-east-1", credentials: { accessKeyId: "A" } }), /need accessKeyId and secretKey/);
});

test("readable reasons", () => {
  assert.equal(connackReason(5, 4).kind, "auth");
  assert.match(connackReason(5, 4).message, /not authorized \(CONNACK return code 5\)/);
  assert.equal(connackReason(4, 4).kind, "auth");
  assert.equal(connackReason(2, 4).kind, "protocol");
  assert.equal(connackReason(3, 4).kind, "server");
  assert.equal(connackReason(0x86, 5).kind, "auth");
  assert.equal(connackReason(0x9f, 5).kind, "server");
  assert.match(connackReason(0x42, 5).message, /unknown reason code/);
  assert.equal(disconnectReason(0xa0).kind, "session-end");
  assert.equal(disconnectReason(0x8e).kind, "taken-over");
  assert.equal(disconnectReason(0x87).kind, "auth");
  assert.equal(disconnectReason(0x8d).kind, "protocol");
  assert.equal(disconnectReason(0x97).kind, "server");
  const base = { now: 10_000, windowMs: 3000, opened: true };
  assert.equal(silentCloseReason({ ...base, connected: false, lastAction: null }).code, "closed-before-connack");
  assert.equal(silentCloseReason({ ...base, connected: false, opened: false, lastAction: null }).kind, "network");
  const pub = silentCloseReason({ ...base, connected: true, lastAction: { kind: "publish", topic: "x/y", at: 9000 } });
  assert.equal(pub.message, "the server closed the connection right after the PUBLISH to x/y: not allowed by your policy: x/y");
  const stale = silentCloseReason({ ...base, connected: true, lastAction: { kind: "publish", topic: "x/y", at: 1000 } });
  assert.equal(stale.kind, "network", "an old action is not blamed");
  assert.match(subackMessage("a/#", 0x87), /SUBACK 0x87, not authorized\): not allowed by your policy: a\/#/);
});

test("token helpers", () => {
  assert.deepEqual(jwtClaims(fakeJwt({ sub: "é", exp: 5 })), { sub: "é", exp: 5 });
  assert.equal(jwtClaims("not.a.jwt"), null);
  assert.equal(jwtClaims("abc"), null);
  assert.equal(authorizerUrl("wss://h/mqtt", "a b", "tok", "x&y"), "wss://h/mqtt?x-amz-customauthorizer-name=a%20b&tok=x%26y");
  assert.equal(authorizerUrl("wss://h/mqtt?q=1", undefined, undefined, null), "wss://h/mqtt?q=1");
  assert.equal(redactUrl("wss://h/mqtt?X-Amz-Signature=abc&X-Amz-Security-Token=t"), "wss://h/mqtt?X-Amz-Signature=<redacted>&X-Amz-Security-Token=<redacted>");
});
