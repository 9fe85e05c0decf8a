// MQTT.js (a client we did not write) against the emulator: an MQTT 5 persistent session.
// Usage: node persistent_session.mjs <ws-url> <client-id> <topic> <step>
//   step "subscribe": connect with clean: false and sessionExpiryInterval, subscribe at QoS 1,
//                     disconnect; prints {"sessionPresent": ...}
//   step "resume":    connect again the same way, wait for one message; prints
//                     {"sessionPresent": ..., "topic": ..., "payload": ..., "qos": ...}
import mqtt from "mqtt";

const [url, clientId, topic, step] = process.argv.slice(2);
const fail = (why) => {
  console.log(JSON.stringify({ error: String(why) }));
  process.exit(1);
};
setTimeout(() => fail("timed out"), 8000);

const client = mqtt.connect(url, {
  clientId,
  clean: false,
  protocolVersion: 5,
  properties: { sessionExpiryInterval: 600 },
  reconnectPeriod: 0,
  connectTimeout: 5000,
});
client.on("error", fail);
let present = null;
client.on("packetreceive", (packet) => {
  if (packet.cmd === "connack") present = packet.sessionPresent;
});
// Stored messages may arrive right after CONNACK: listen before connecting completes.
client.on("message", (t, payload, packet) => {
  console.log(
    JSON.stringify({ sessionPresent: present, topic: t, payload: payload.toString(), qos: packet.qos }),
  );
  client.end(false, {}, () => process.exit(0));
});
client.on("connect", (connack) => {
  present = connack.sessionPresent;
  if (step === "subscribe") {
    client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) fail(err);
      client.end(false, {}, () => {
        console.log(JSON.stringify({ sessionPresent: present }));
        process.exit(0);
      });
    });
  }
});
