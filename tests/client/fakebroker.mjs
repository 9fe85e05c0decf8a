// A scripted MQTT-over-WebSocket server on 127.0.0.1 for the client's Node tests: `ws` for
// the WebSocket, `mqtt-packet` (MQTT.js's own codec) for the packets. Each test decides what
// the server does on CONNECT, SUBSCRIBE and PUBLISH; every connection is recorded.
import { WebSocketServer } from "ws";
import mqttPacket from "mqtt-packet";

/**
 * @param {object} [behaviour]
 * @param {(conn: Conn, packet: any) => void} [behaviour.onConnect]   default: CONNACK 0
 * @param {(conn: Conn, packet: any) => void} [behaviour.onSubscribe] default: SUBACK granted
 * @param {(conn: Conn, packet: any) => void} [behaviour.onPublish]   default: PUBACK for QoS 1
 * @param {number} [behaviour.refuseUpgrade]  answer the upgrade with this HTTP status
 */
export async function startBroker(behaviour = {}) {
  const conns = [];
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    verifyClient: behaviour.refuseUpgrade
      ? (_info, cb) => cb(false, behaviour.refuseUpgrade, "refused")
      : undefined,
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  const port = wss.address().port;
  const broker = {
    url: `ws://127.0.0.1:${port}/mqtt`,
    port,
    conns,
    upgrades: 0,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on("headers", () => {
    broker.upgrades += 1;
  });
  wss.on("connection", (ws, req) => {
    const conn = new Conn(ws, req.url);
    conns.push(conn);
    conn.parser.on("packet", (p) => {
      conn.packets.push(p);
      if (p.cmd === "connect") {
        conn.connect = p;
        conn.version = p.protocolVersion;
        (behaviour.onConnect || ((c) => c.send({ cmd: "connack", returnCode: 0, reasonCode: 0, sessionPresent: false })))(conn, p);
      } else if (p.cmd === "subscribe") {
        (behaviour.onSubscribe ||
          ((c, s) => c.send({ cmd: "suback", messageId: s.messageId, granted: s.subscriptions.map((x) => x.qos) })))(conn, p);
      } else if (p.cmd === "publish") {
        (behaviour.onPublish ||
          ((c, pub) => {
            if (pub.qos === 1) c.send({ cmd: "puback", messageId: pub.messageId });
          }))(conn, p);
      } else if (p.cmd === "pingreq") {
        conn.send({ cmd: "pingresp" });
      } else if (p.cmd === "disconnect") {
        conn.clientDisconnected = true;
      }
    });
  });
  return broker;
}

export class Conn {
  constructor(ws, url) {
    this.ws = ws;
    this.url = url;
    this.version = 4;
    this.packets = [];
    this.connect = null;
    this.clientDisconnected = false;
    this.closed = new Promise((resolve) => ws.once("close", resolve));
    this.parser = mqttPacket.parser({ protocolVersion: 5 });
    ws.on("message", (data) => this.parser.parse(Buffer.from(data)));
  }

  get query() {
    return new URL(this.url, "ws://x").searchParams;
  }

  send(packet) {
    this.ws.send(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  raw(bytes) {
    this.ws.send(Buffer.from(bytes));
  }

  close() {
    this.ws.close();
  }
}

/** Resolve when `predicate()` is true, polling every 10 ms; fail after `ms`. */
export async function until(predicate, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An unsigned JWT-shaped token with the given claims (the fake broker does not verify). */
export function fakeJwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.sig`;
}

/** Collect events of a connection: `events.close`, `events.error`, ... */
export function record(conn) {
  const events = { state: [], connect: [], message: [], close: [], error: [], subscribe: [], stopped: [], renew: [] };
  for (const name of Object.keys(events)) conn.on(name, (ev) => events[name].push(ev));
  return events;
}
