/**
 * Stand-in for `import mqtt from "mqtt"` in the `<script>` build (iotws-client.js): the page
 * loads MQTT.js's own browser build first (vendor/mqtt.min.js, global `mqtt`), so the client
 * bundle does not carry a second copy. webbuild.py aliases "mqtt" to this file.
 */
// @ts-ignore: the global is defined by mqtt.min.js
const mqtt = globalThis.mqtt;
export default mqtt;
