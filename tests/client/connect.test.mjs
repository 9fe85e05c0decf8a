// The client's reconnect loop against a scripted broker (fakebroker.mjs), with the real
// MQTT.js underneath. Run: node --test tests/client/
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../client/index.js";
import { startBroker, until, fakeJwt, record } from "./fakebroker.mjs";

// Any unhandled rejection anywhere in this file fails the run.
const rejections = [];
process.on("unhandledRejection", (err) => rejections.push(err));
after(() => assert.deepEqual(rejections, [], "unhandled promise rejections"));

const FAST = { initialBackoffMs: 50, maxBackoffMs: 200, connectTimeoutMs: 2000, keepalive: 60 };

function tokenFactory(lifetimeMs = 3600_000) {
  let n = 0;
  const issued = [];
  const getToken = () => {
    n += 1;
    const t = fakeJwt({ sub: "alice", n, exp: Math.floor((Date.now() + lifetimeMs) / 1000) });
    issued.push(t);
    return t;
  };
  return { getToken, issued, count: () => n };
}

test("getToken is called for each connection; token and authorizer name in the URL; persistent session", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const tokens = tokenFactory();
  const conn = connect({ url: broker.url, authorizerName: "my-auth", tokenKeyName: "tok", getToken: tokens.getToken, clientId: ({ sub }) => `${sub}-1`, ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "connected", 5000, "connected");
  const c0 = broker.conns[0];
  assert.equal(c0.query.get("x-amz-customauthorizer-name"), "my-auth");
  assert.equal(c0.query.get("tok"), tokens.issued[0]);
  assert.equal(c0.connect.clean, false, "persistent session requested");
  assert.equal(c0.connect.clientId, "alice-1");
  assert.ok(!conn.url.includes(tokens.issued[0]), "the shown URL hides the token");
  // a drop: a new connection, a new token, the same client id
  c0.close();
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "reconnected");
  assert.equal(tokens.count(), 2);
  assert.equal(broker.conns[1].query.get("tok"), tokens.issued[1]);
  assert.equal(broker.conns[1].connect.clientId, "alice-1");
  const closes = ev.close.filter((c) => c.willRetry);
  assert.equal(closes.length, 1);
  assert.match(closes[0].message, /connection was closed/);
  assert.ok(closes[0].retryInMs >= 25, "backoff before the retry");
});

test("renews before the token's exp: new token fetched first, then a new connection", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const tokens = tokenFactory(2500);
  const conn = connect({ url: broker.url, getToken: tokens.getToken, clientId: "c1", renewBeforeSeconds: 1, ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "renewed");
  const exp0 = JSON.parse(Buffer.from(tokens.issued[0].split(".")[1], "base64url")).exp * 1000;
  assert.ok(Date.now() < exp0 + 200, "renewed before the first token expired");
  assert.ok(broker.conns[0].clientDisconnected, "the old connection was ended with DISCONNECT");
  assert.equal(ev.renew.length, 1);
  assert.equal(ev.error.length, 0);
  assert.notEqual(broker.conns[1].query.get("token"), broker.conns[0].query.get("token"));
});

test("renews before the authorizer's session end (sessionSeconds)", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const tokens = tokenFactory();
  const started = Date.now();
  const conn = connect({ url: broker.url, getToken: tokens.getToken, clientId: "c2", sessionSeconds: 2, renewBeforeSeconds: 0.5, ...FAST });
  t.after(() => conn.end());
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "renewed");
  assert.ok(Date.now() - started < 2000, "before the session's end");
  assert.equal(tokens.count(), 2);
});

test("resubscribes when the session was not kept, not when it was", async (t) => {
  let present = false;
  const broker = await startBroker({
    onConnect: (c) => c.send({ cmd: "connack", returnCode: 0, sessionPresent: present }),
  });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c3", ...FAST });
  t.after(() => conn.end());
  const res = await conn.subscribe("a/b", { qos: 1 });
  assert.deepEqual(res, { ok: true, topic: "a/b", qos: 1 });
  broker.conns[0].close();
  await until(() => broker.conns.length === 2 && broker.conns[1].packets.some((p) => p.cmd === "subscribe"), 5000, "resubscribed");
  present = true;
  broker.conns[1].close();
  await until(() => broker.conns.length === 3 && conn.state === "connected", 5000, "third connection");
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!broker.conns[2].packets.some((p) => p.cmd === "subscribe"), "session present: no SUBSCRIBE");
});

test("a QoS 1 message queued in the session arrives after the reconnect", async (t) => {
  const broker = await startBroker({
    onConnect: (c, p) => {
      const resumed = !p.clean && broker.conns.length > 1;
      c.send({ cmd: "connack", returnCode: 0, sessionPresent: resumed });
      if (resumed) c.send({ cmd: "publish", topic: "a/b", payload: Buffer.from("while away"), qos: 1, messageId: 7 });
    },
  });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c4", ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await conn.subscribe("a/b");
  broker.conns[0].close();
  await until(() => ev.message.length === 1, 5000, "queued message");
  assert.equal(ev.message[0].text, "while away");
  assert.equal(ev.message[0].qos, 1);
  await until(() => broker.conns[1].packets.some((p) => p.cmd === "puback" && p.messageId === 7), 2000, "PUBACK");
});

test("CONNACK not authorized: stops after maxAuthFailures and says why", async (t) => {
  const broker = await startBroker({ onConnect: (c) => c.send({ cmd: "connack", returnCode: 5 }) });
  t.after(() => broker.close());
  const tokens = tokenFactory();
  const conn = connect({ url: broker.url, getToken: tokens.getToken, clientId: "c5", maxAuthFailures: 3, ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "stopped", 5000, "stopped");
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(broker.conns.length, 3, "exactly three attempts, then no more");
  assert.equal(tokens.count(), 3, "a fresh token for each attempt");
  assert.equal(ev.stopped.length, 1);
  assert.match(ev.stopped[0].message, /gave up after 3 authorization failures in a row/);
  assert.match(ev.stopped[0].message, /not authorized \(CONNACK return code 5\)/);
  assert.equal(ev.close.at(-1).willRetry, false);
});

test("MQTT 5: CONNACK 0x87 is an authorization failure too", async (t) => {
  const broker = await startBroker({ onConnect: (c) => c.send({ cmd: "connack", reasonCode: 0x87 }) });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c6", protocolVersion: 5, maxAuthFailures: 2, ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "stopped", 5000, "stopped");
  assert.equal(broker.conns.length, 2);
  assert.equal(broker.conns[0].connect.properties.sessionExpiryInterval, 3600);
  assert.match(ev.close[0].message, /not authorized \(CONNACK reason code 0x87\)/);
});

test("MQTT 5: DISCONNECT session taken over stops; maximum connect time reconnects", async (t) => {
  let n = 0;
  const broker = await startBroker({
    onConnect: (c) => {
      n += 1;
      c.send({ cmd: "connack", reasonCode: 0, sessionPresent: false });
      setTimeout(() => c.send({ cmd: "disconnect", reasonCode: n === 1 ? 0xa0 : 0x8e }), 50);
    },
  });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c7", protocolVersion: 5, ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "stopped", 8000, "stopped");
  assert.equal(broker.conns.length, 2);
  assert.match(ev.close[0].message, /maximum connect time reached \(reason code 0xa0\)/);
  assert.equal(ev.close[0].willRetry, true);
  assert.match(ev.stopped[0].message, /session taken over/);
  assert.match(ev.stopped[0].message, /client id c7/);
});

test("SUBACK 0x80 names the topic and the filter is not retried", async (t) => {
  const broker = await startBroker({
    onSubscribe: (c, s) => c.send({ cmd: "suback", messageId: s.messageId, granted: s.subscriptions.map((x) => (x.topic === "secret/#" ? 0x80 : 1)) }),
  });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c8", ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  const ok = await conn.subscribe("open/x");
  const refused = await conn.subscribe("secret/#");
  assert.equal(ok.ok, true);
  assert.equal(refused.ok, false);
  assert.match(refused.reason, /not allowed by your policy: secret\/#/);
  assert.equal(ev.error.at(-1).topic, "secret/#");
  assert.equal(conn.state, "connected", "a refused filter keeps the connection");
  broker.conns[0].close();
  await until(() => broker.conns.length === 2 && broker.conns[1].packets.some((p) => p.cmd === "subscribe"), 5000, "resubscribe");
  const topics = broker.conns[1].packets.filter((p) => p.cmd === "subscribe").flatMap((p) => p.subscriptions.map((s) => s.topic));
  assert.deepEqual(topics, ["open/x"]);
});

test("a silent close right after SUBSCRIBE: 'not allowed by your policy: X', not resubscribed", async (t) => {
  const broker = await startBroker({ onSubscribe: (c, s) => (s.subscriptions[0].topic === "secret/#" ? c.ws.terminate() : c.send({ cmd: "suback", messageId: s.messageId, granted: [1] })) });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c9", ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await conn.subscribe("open/x");
  const res = await conn.subscribe("secret/#");
  assert.equal(res.ok, false);
  assert.match(res.reason, /right after the SUBSCRIBE to secret\/#: not allowed by your policy: secret\/#/);
  assert.equal(ev.close[0].kind, "policy");
  assert.equal(ev.close[0].topic, "secret/#");
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "reconnected");
  await new Promise((r) => setTimeout(r, 100));
  const topics = broker.conns[1].packets.filter((p) => p.cmd === "subscribe").flatMap((p) => p.subscriptions.map((s) => s.topic));
  assert.deepEqual(topics, ["open/x"]);
});

test("a silent close right after PUBLISH names the topic; the publish resolves ok: false", async (t) => {
  const broker = await startBroker({ onPublish: (c) => c.ws.terminate() });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c10", ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "connected");
  const res = await conn.publish("their/topic", "hi", { qos: 1 });
  assert.equal(res.ok, false);
  assert.match(res.reason, /not allowed by your policy: their\/topic/);
  assert.match(ev.close[0].message, /right after the PUBLISH to their\/topic/);
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "reconnected");
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!broker.conns[1].packets.some((p) => p.cmd === "publish"), "the forbidden publish is not resent");
});

test("publish while not connected resolves with a readable reason", async (t) => {
  const broker = await startBroker({ onConnect: () => {} });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c11", ...FAST });
  t.after(() => conn.end());
  await until(() => conn.state === "connecting", 2000, "connecting");
  const res = await conn.publish("a", "b");
  assert.equal(res.ok, false);
  assert.match(res.reason, /not connected \(connecting\): cannot publish to a/);
});

test("end() closes for good", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "c12", ...FAST });
  const ev = record(conn);
  await until(() => conn.state === "connected");
  await conn.end();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(conn.state, "closed");
  assert.equal(broker.conns.length, 1);
  assert.equal(ev.close.at(-1).willRetry, false);
});

test("backoff grows exponentially with jitter, capped", async (t) => {
  const broker = await startBroker({ onConnect: (c) => c.ws.terminate() });
  t.after(() => broker.close());
  const make = (random) => connect({ url: broker.url, clientId: "c13", initialBackoffMs: 40, maxBackoffMs: 160, random, connectTimeoutMs: 2000 });
  for (const [random, want] of [
    [() => 1, [40, 80, 160, 160, 160]],
    [() => 0, [40, 40, 80, 80, 80]], // half the base, never below the initial delay
  ]) {
    const conn = make(random);
    const ev = record(conn);
    await until(() => ev.close.length >= 5, 5000, "five closes");
    await conn.end();
    assert.deepEqual(ev.close.slice(0, 5).map((c) => c.retryInMs), want);
  }
});

test("a drop while a renewal is fetching the token: the next connection uses that token", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  let calls = 0;
  let release;
  const gate = new Promise((r) => (release = r));
  const getToken = async () => {
    calls += 1;
    const tok = fakeJwt({ sub: "a", n: calls, exp: Math.floor((Date.now() + (calls === 1 ? 2500 : 3600_000)) / 1000) });
    if (calls > 1) await gate; // the token service is slow
    return tok;
  };
  const conn = connect({ url: broker.url, getToken, clientId: "c14", renewBeforeSeconds: 1, ...FAST });
  t.after(() => conn.end());
  await until(() => calls === 2, 5000, "renewal started");
  broker.conns[0].close(); // the server drops the connection meanwhile
  await until(() => conn.state === "waiting" || conn.state === "reconnecting", 2000, "dropped");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(broker.conns.length, 1, "no connection without the new token");
  release();
  await until(() => broker.conns.length === 2 && conn.state === "connected", 5000, "reconnected");
  assert.equal(calls, 2, "the pending token was used, not a third one");
  assert.equal(JSON.parse(Buffer.from(broker.conns[1].query.get("token").split(".")[1], "base64url")).n, 2);
});
