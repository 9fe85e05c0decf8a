// Bad input: a getToken() that throws or returns nothing, an endpoint that refuses the
// upgrade, a malformed packet from the server, bad options. Each gives a readable event, no
// unhandled promise rejection and no tight reconnect loop.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect, connectGuest } from "../../client/index.js";
import { startBroker, until, fakeJwt, record } from "./fakebroker.mjs";

const rejections = [];
process.on("unhandledRejection", (err) => rejections.push(err));
after(() => assert.deepEqual(rejections, [], "unhandled promise rejections"));

const FAST = { initialBackoffMs: 100, maxBackoffMs: 400, connectTimeoutMs: 2000 };

/** Gaps between attempts, in ms. */
function gaps(times) {
  return times.slice(1).map((t, i) => t - times[i]);
}

for (const [name, getToken, expected] of [
  ["throws", () => { throw new Error("session cookie gone"); }, /getToken\(\) failed: session cookie gone/],
  ["rejects", () => Promise.reject(new Error("HTTP 401")), /getToken\(\) failed: HTTP 401/],
  ["returns nothing", () => undefined, /getToken\(\) returned no token/],
  ["returns an empty string", () => "", /getToken\(\) returned no token/],
  ["returns an expired token", () => fakeJwt({ sub: "a", exp: 1000 }), /expired at 1970-01-01T00:16:40.000Z/],
]) {
  test(`getToken ${name}: readable error, backoff, then stop`, async (t) => {
    const broker = await startBroker();
    t.after(() => broker.close());
    const calls = [];
    const conn = connect({
      url: broker.url,
      clientId: "b1",
      maxAuthFailures: 3,
      getToken: () => {
        calls.push(Date.now());
        return getToken();
      },
      ...FAST,
    });
    t.after(() => conn.end());
    const ev = record(conn);
    await until(() => conn.state === "stopped", 5000, "stopped");
    assert.equal(calls.length, 3);
    assert.equal(broker.conns.length, 0, "no connection without a token");
    assert.match(ev.error[0].message, expected);
    assert.equal(ev.error[0].code, "credentials");
    assert.match(ev.stopped[0].message, /gave up after 3 authorization failures/);
    for (const gap of gaps(calls)) assert.ok(gap >= 90, `attempts ${gap} ms apart`);
  });
}

test("getToken must be a function", () => {
  assert.throws(() => connect({ url: "ws://127.0.0.1:1/mqtt", getToken: "abc" }), /option getToken must be a function/);
});

test("bad options name the option", () => {
  assert.throws(() => connect({ url: "http://x" }), /option url must be a ws:\/\/ or wss:\/\/ URL/);
  assert.throws(() => connect({}), /option url/);
  assert.throws(() => connect({ url: "ws://x/mqtt", protocolVersion: 3 }), /option protocolVersion must be 4/);
  assert.throws(() => connect({ url: "ws://x/mqtt", maxAuthFailures: 0 }), /option maxAuthFailures must be a number >= 1/);
  assert.throws(() => connect({ url: "ws://x/mqtt", keepalive: "60" }), /option keepalive/);
  assert.throws(() => connectGuest({ region: "us-east-1" }), /endpoint .* and region are required/);
  assert.throws(() => connectGuest({ region: "us-east-1", endpoint: "h" }), /identityPoolId/);
});

test("upgrade refused with 403: an authorization failure, stops", async (t) => {
  const broker = await startBroker({ refuseUpgrade: 403 });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "b2", maxAuthFailures: 2, ...FAST });
  t.after(() => conn.end());
  const ev = record(conn);
  await until(() => conn.state === "stopped", 5000, "stopped");
  assert.match(ev.close[0].message, /refused the WebSocket upgrade with HTTP 403/);
  assert.match(ev.stopped[0].message, /gave up after 2 authorization failures/);
});

test("upgrade refused with 404: keeps trying, but with backoff", async (t) => {
  const broker = await startBroker({ refuseUpgrade: 404 });
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "b3", ...FAST });
  const ev = record(conn);
  await new Promise((r) => setTimeout(r, 1500));
  await conn.end();
  assert.match(ev.close[0].message, /HTTP 404: check the URL/);
  assert.ok(ev.close.length >= 2 && ev.close.length <= 7, `${ev.close.length} attempts in 1.5 s`);
  assert.ok(ev.close.filter((c) => c.willRetry).every((c) => c.retryInMs >= 100));
});

test("nothing listening: readable, with backoff", async (t) => {
  const broker = await startBroker();
  const url = broker.url;
  await broker.close();
  const conn = connect({ url, clientId: "b4", ...FAST });
  const ev = record(conn);
  await new Promise((r) => setTimeout(r, 1000));
  await conn.end();
  assert.match(ev.close[0].message, /could not open the WebSocket \(.*ECONNREFUSED.*\)/);
  assert.ok(ev.close.length <= 6, `${ev.close.length} attempts in 1 s`);
});

for (const [name, bytes] of [
  ["a reserved packet type", [0xf0, 0x00]],
  ["a length that never ends", [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]],
  ["a CONNACK with bad flags", [0x20, 0x02, 0x07, 0x00]],
]) {
  test(`malformed packet from the server (${name}): readable close, backoff`, async (t) => {
    const broker = await startBroker({ onConnect: (c) => c.raw(bytes) });
    t.after(() => broker.close());
    const conn = connect({ url: broker.url, clientId: "b5", ...FAST });
    const ev = record(conn);
    await until(() => ev.close.length >= 1, 5000, "a close");
    await new Promise((r) => setTimeout(r, 500));
    await conn.end();
    assert.match(ev.close[0].message, /the connection|could not open/);
    assert.ok(ev.close[0].message.length > 30);
    assert.ok(broker.conns.length <= 4, `${broker.conns.length} connections in ~0.5 s`);
  });
}

test("a listener that throws does not break the loop", async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const conn = connect({ url: broker.url, clientId: "b6", ...FAST });
  t.after(() => conn.end());
  const origError = console.error;
  console.error = () => {};
  t.after(() => (console.error = origError));
  conn.on("state", () => {
    throw new Error("page bug");
  });
  await until(() => conn.state === "connected", 5000, "connected");
});
