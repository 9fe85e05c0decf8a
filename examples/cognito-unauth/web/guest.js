/*
 * iotws Cognito guest example page: a browser with no account and no token gets guest
 * credentials from a Cognito identity pool, presigns a WebSocket URL with them and talks
 * MQTT to AWS IoT Core. What the guest may do is the guest role's IAM policy, rendered from
 * access.yaml. The iotws client (client/ in the kit, ./vendor/iotws-client.js) does the
 * Cognito calls, refreshes the credentials, presigns a new URL for every connection and
 * reconnects; MQTT.js is ./vendor/mqtt.min.js. Both are vendored by `make web` (no CDN).
 *
 * Configuration: ./config.json (the Terraform output `web_config`), each key overridable
 * by a query parameter of the same name: region, identityPoolId, endpoint, prefix,
 * clientId (a rule such as "guest-{identity_id}"), subscribe, publish, cognitoEndpoint
 * (only for local tests against a Cognito stand-in); page-only: autoconnect=1,
 * renewBeforeSeconds (fetch new credentials this long before they expire; default 60).
 *
 * Test hooks: element ids (#status, #messages, #errors, ...) and `window.iotwsGuest`.
 */
(function (root) {
  "use strict";

  var KEYS = [
    "region",
    "identityPoolId",
    "endpoint",
    "prefix",
    "clientId",
    "subscribe",
    "publish",
    "cognitoEndpoint",
  ];

  var state = {
    state: "idle",
    connected: false,
    identityId: null,
    clientId: null,
    credentialsFetched: 0,
    accessKeys: [],
    messages: [],
    errors: [],
    client: null,
  };
  root.iotwsGuest = state;

  function $(id) {
    return document.getElementById(id);
  }

  function setStatus(name, detail) {
    state.state = name;
    state.connected = name === "connected";
    $("status").textContent = detail ? name + ": " + detail : name;
    $("status").dataset.state = name;
    $("disconnect-btn").disabled = !state.client;
  }

  function fail(text) {
    state.errors.push(text);
    var li = document.createElement("li");
    li.textContent = text;
    $("errors").prepend(li);
  }

  function loadConfig() {
    return fetch("./config.json", { cache: "no-store" })
      .then(function (res) {
        return res.ok ? res.json() : {};
      })
      .catch(function () {
        return {}; // no config.json: everything comes from the query string
      })
      .then(function (file) {
        var params = new URLSearchParams(root.location.search);
        var cfg = {};
        KEYS.forEach(function (k) {
          var q = params.get(k);
          var v = file[k];
          cfg[k] = q !== null && q !== "" ? q : Array.isArray(v) ? v[0] || "" : v || "";
        });
        cfg.clientId = cfg.clientId || "{identity_id}";
        ["region", "identityPoolId", "endpoint"].forEach(function (k) {
          if (!cfg[k]) {
            throw new Error("missing " + k + ": set it in config.json or ?" + k + "=");
          }
        });
        return cfg;
      });
  }

  /** "{identity_id}" placeholders -> this guest's identity id. */
  function fill(text, identityId) {
    return String(text).split("{identity_id}").join(identityId);
  }

  function connect() {
    return loadConfig().then(function (cfg) {
      if (state.client) {
        state.client.end();
      }
      var suffix = Date.now().toString(36);
      var renew = Number(new URLSearchParams(root.location.search).get("renewBeforeSeconds"));
      var client = root.iotws.connectGuest({
        renewBeforeSeconds: renew > 0 ? renew : undefined,
        endpoint: cfg.endpoint,
        region: cfg.region,
        identityPoolId: cfg.identityPoolId,
        cognitoEndpoint: cfg.cognitoEndpoint || undefined,
        clientId: function (info) {
          // A rule ending in "*" gets a suffix; fixed for the life of the page, so the
          // persistent session is resumed on every reconnect.
          return fill(cfg.clientId.replace(/\*$/, suffix), info.sub);
        },
      });
      state.client = client;
      client.on("state", function (ev) {
        if (client.credentials && client.credentials.identityId) {
          state.identityId = client.credentials.identityId;
          $("identity-id").textContent = state.identityId;
          var key = client.credentials.accessKeyId;
          if (key && state.accessKeys[state.accessKeys.length - 1] !== key) {
            state.accessKeys.push(key);
          }
        }
        state.clientId = client.clientId;
        state.credentialsFetched = client.credentialsFetched;
        $("client-id").textContent = state.clientId || "-";
        $("ws-url").textContent = client.url || "-";
        setStatus(ev.state, ev.detail);
      });
      client.on("connect", function () {
        var topic = fill(cfg.subscribe, state.identityId);
        if (topic && !client.subscriptions.has(topic)) {
          $("subscribe-topic").value = topic;
          client.subscribe(topic, { qos: 1 });
        }
        $("publish-topic").value = fill(cfg.publish, state.identityId);
      });
      client.on("message", function (ev) {
        state.messages.push({ topic: ev.topic, payload: ev.text });
        var li = document.createElement("li");
        li.textContent = ev.topic + ": " + ev.text;
        $("messages").prepend(li);
      });
      client.on("error", function (ev) {
        fail(ev.message);
      });
      client.on("close", function (ev) {
        if (ev.code !== "renew" && ev.code !== "ended") {
          fail(ev.message);
        }
      });
      client.on("stopped", function (ev) {
        fail(ev.message);
      });
    });
  }

  function wire() {
    $("connect-form").addEventListener("submit", function (e) {
      e.preventDefault();
      connect().catch(function (err) {
        fail(err.message);
        setStatus("error", err.message);
      });
    });
    $("disconnect-btn").addEventListener("click", function () {
      if (state.client) {
        state.client.end();
      }
    });
    $("subscribe-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (state.client) {
        state.client.subscribe($("subscribe-topic").value, { qos: 1 });
      }
    });
    $("publish-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (state.client) {
        state.client.publish($("publish-topic").value, $("publish-payload").value, { qos: 0 });
      }
    });
    if (!root.mqtt || !root.iotws) {
      fail("MQTT.js or the iotws client did not load from ./vendor/ (run `make web`)");
      setStatus("error");
      return;
    }
    if (new URLSearchParams(root.location.search).get("autoconnect") === "1") {
      connect().catch(function (err) {
        fail(err.message);
        setStatus("error", err.message);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})(window);
