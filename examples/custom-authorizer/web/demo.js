/*
 * iotws custom-authorizer example page: MQTT over WebSockets to AWS IoT Core (or the local
 * emulator) with MQTT.js, authenticated by the custom authorizer.
 *
 * Plain browser script, no framework, no CDN: MQTT.js comes from ./vendor/mqtt.min.js
 * (`make web` puts it there). The pure helpers at the top are also exported for Node so the
 * tests can check them (`module.exports` below); the page logic runs only in a browser.
 *
 * Test hooks: stable element ids (#status, #messages, #errors, #subscribe-topic, ...) and
 * `window.iotwsDemo` (connected, state, clientId, messages[], errors[], subscriptions{}).
 */
(function (root) {
  "use strict";

  // The configuration keys (INTERNALS.md "Emulator and web pages"); each one may be
  // overridden by a query parameter of the same name. `token`, `clientId`,
  // `protocolVersion` and `reconnect` are page-only parameters.
  var CONFIG_KEYS = ["url", "authorizerName", "tokenKeyName", "prefix", "mode"];
  var PAGE_KEYS = ["token", "clientId", "protocolVersion", "reconnect"];
  var AUTHORIZER_PARAM = "x-amz-customauthorizer-name";
  var MAX_SHOWN_MESSAGES = 200;
  var MAX_KEPT_MESSAGES = 1000;

  /** Merge config.json with the page's query string (query parameters win when non-empty). */
  function mergeConfig(fileConfig, search) {
    var cfg = {};
    var keys = CONFIG_KEYS.concat(PAGE_KEYS);
    var params = new URLSearchParams(search || "");
    keys.forEach(function (k) {
      var fromFile = fileConfig && typeof fileConfig[k] === "string" ? fileConfig[k] : "";
      var fromQuery = params.get(k);
      cfg[k] = fromQuery !== null && fromQuery !== "" ? fromQuery : fromFile;
    });
    cfg.prefix = (cfg.prefix || "").replace(/^\/+|\/+$/g, "");
    cfg.mode = cfg.mode || "public";
    cfg.protocolVersion = cfg.protocolVersion === "5" ? 5 : 4;
    return cfg;
  }

  /** Join the topic prefix and a relative topic ("" prefix means none). */
  function topicFor(prefix, name) {
    return prefix ? prefix + "/" + name : name;
  }

  /**
   * The WebSocket URL: `<url>?x-amz-customauthorizer-name=<name>[&<tokenKeyName>=<token>]`.
   * Browsers cannot set headers on a WebSocket upgrade, so the authorizer name and the token
   * travel in the query string (IOT_FACTS section 1). Every value is URL-encoded.
   */
  function buildWsUrl(cfg) {
    if (!cfg.url) {
      throw new Error("no broker URL: set `url` in config.json or the ?url= query parameter");
    }
    if (!/^wss?:\/\//i.test(cfg.url)) {
      throw new Error("`url` must start with ws:// or wss:// (got " + cfg.url + ")");
    }
    var parts = [];
    if (cfg.authorizerName) {
      parts.push(AUTHORIZER_PARAM + "=" + encodeURIComponent(cfg.authorizerName));
    }
    if (cfg.token) {
      if (!cfg.tokenKeyName) {
        throw new Error("a token was given but `tokenKeyName` is empty: set it in config.json");
      }
      parts.push(encodeURIComponent(cfg.tokenKeyName) + "=" + encodeURIComponent(cfg.token));
    }
    if (!parts.length) {
      return cfg.url;
    }
    return cfg.url + (cfg.url.indexOf("?") >= 0 ? "&" : "?") + parts.join("&");
  }

  /** The same URL with the token replaced, safe to show on the page and in logs. */
  function redactUrl(wsUrl, tokenKeyName) {
    if (!tokenKeyName) {
      return wsUrl;
    }
    var key = encodeURIComponent(tokenKeyName).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return wsUrl.replace(new RegExp("([?&]" + key + "=)[^&]*"), "$1<redacted>");
  }

  /** The claims of a JWT, unverified (only to pick a client id; the authorizer verifies). */
  function jwtClaims(token) {
    var parts = (token || "").split(".");
    if (parts.length !== 3) {
      return null;
    }
    try {
      var b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
      while (b64.length % 4) {
        b64 += "=";
      }
      var bin = atob(b64);
      var bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) {
        bytes[i] = bin.charCodeAt(i);
      }
      var claims = JSON.parse(new TextDecoder("utf-8").decode(bytes));
      return claims && typeof claims === "object" ? claims : null;
    } catch (e) {
      return null;
    }
  }

  /** Eight random hex characters (inside the identity character set, INTERNALS.md). */
  function randomSuffix(cryptoObj) {
    var bytes = new Uint8Array(4);
    cryptoObj.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  /**
   * The MQTT client id: the one given, else `<sub>-<random>` for a token with a `sub` claim,
   * else `anon-<random>` for guests. These match the example's access spec client-id rules
   * (`anon-*`, `{sub}-*`); the authorizer binds iot:Connect to the exact id (IOT_FACTS
   * section 3, client-id injection), so pass ?clientId= if your spec uses other rules.
   */
  function chooseClientId(cfg, cryptoObj) {
    if (cfg.clientId) {
      return cfg.clientId;
    }
    var claims = cfg.token ? jwtClaims(cfg.token) : null;
    var base = claims && typeof claims.sub === "string" && claims.sub ? claims.sub : "anon";
    return base + "-" + randomSuffix(cryptoObj);
  }

  /** True when a SUBACK return code is a failure: 0x80 in MQTT 3.1.1, >= 0x80 in MQTT 5. */
  function isRefusedQos(code) {
    return typeof code === "number" && (code & 0x80) !== 0;
  }

  /** Decode a payload for display: UTF-8 text, invalid bytes replaced. */
  function payloadText(payload) {
    if (typeof payload === "string") {
      return payload;
    }
    return new TextDecoder("utf-8").decode(payload);
  }

  var lib = {
    mergeConfig: mergeConfig,
    topicFor: topicFor,
    buildWsUrl: buildWsUrl,
    redactUrl: redactUrl,
    jwtClaims: jwtClaims,
    chooseClientId: chooseClientId,
    isRefusedQos: isRefusedQos,
    payloadText: payloadText,
  };

  if (typeof module === "object" && module.exports) {
    module.exports = lib;
  }
  if (typeof document === "undefined") {
    return;
  }

  // ---------------------------------------------------------------------- the page

  var state = {
    ready: false,
    connected: false,
    state: "idle",
    clientId: "",
    url: "",
    config: null,
    messages: [],
    errors: [],
    subscriptions: {},
    client: null,
    lib: lib,
  };
  root.iotwsDemo = state;

  var el = function (id) {
    return document.getElementById(id);
  };

  function now() {
    return new Date().toISOString();
  }

  function setState(name, detail) {
    state.state = name;
    state.connected = name === "connected";
    var status = el("status");
    status.textContent = detail ? name + ": " + detail : name;
    status.setAttribute("data-state", name);
    el("disconnect-btn").disabled = !state.client;
  }

  function addError(kind, message, topic) {
    var entry = { kind: kind, message: message, topic: topic || null, at: now() };
    state.errors.push(entry);
    var li = document.createElement("li");
    li.className = "error error-" + kind;
    li.setAttribute("data-kind", kind);
    li.textContent = "[" + entry.at.slice(11, 19) + "] " + kind + ": " + message;
    el("errors").prepend(li);
    if (root.console) {
      root.console.warn("iotws demo " + kind + ": " + message);
    }
  }

  function addMessage(topic, payload, packet) {
    var text = payloadText(payload);
    var entry = {
      topic: topic,
      payload: text,
      qos: packet ? packet.qos : 0,
      retain: packet ? !!packet.retain : false,
      at: now(),
    };
    state.messages.push(entry);
    if (state.messages.length > MAX_KEPT_MESSAGES) {
      state.messages.shift();
    }
    var li = document.createElement("li");
    li.className = "message";
    var t = document.createElement("span");
    t.className = "topic";
    t.textContent = topic;
    var p = document.createElement("span");
    p.className = "payload";
    // textContent only: payloads come from other clients and must never become markup.
    p.textContent = text;
    li.append(t, p);
    var list = el("messages");
    list.prepend(li);
    while (list.children.length > MAX_SHOWN_MESSAGES) {
      list.removeChild(list.lastChild);
    }
  }

  function renderSubscriptions() {
    var list = el("subscriptions");
    list.textContent = "";
    Object.keys(state.subscriptions)
      .sort()
      .forEach(function (topic) {
        var li = document.createElement("li");
        li.textContent = topic + " (" + state.subscriptions[topic] + ")";
        li.setAttribute("data-status", state.subscriptions[topic]);
        list.append(li);
      });
  }

  // What the client did last: IoT closes the connection after a forbidden publish (MQTT
  // 3.1.1) without saying why, so a close right after an action names the likely cause.
  var lastAction = null;
  var everConnected = false;

  function subscribe(topic) {
    var client = state.client;
    if (!client || !state.connected) {
      addError("subscribe", "not connected: cannot subscribe to " + topic, topic);
      return;
    }
    lastAction = { kind: "subscribe", topic: topic, at: Date.now() };
    state.subscriptions[topic] = "pending";
    renderSubscriptions();
    client.subscribe(topic, { qos: 1 }, function (err, granted, suback) {
      // SUBACK return codes: 0x80 refuses a filter in MQTT 3.1.1 (>= 0x80 in MQTT 5).
      // MQTT.js reports a refusal as `err` and leaves the codes in the SUBACK packet.
      var codes = suback && suback.granted ? suback.granted : [];
      var refused = codes.filter(isRefusedQos);
      if (err || refused.length) {
        state.subscriptions[topic] = "refused";
        var why = refused.length
          ? "SUBACK return code 0x" + refused[0].toString(16)
          : err.message;
        addError("subscribe", "subscribe to " + topic + " refused: " + why, topic);
      } else {
        var qos = codes.length ? codes[0] : granted && granted[0] ? granted[0].qos : 0;
        state.subscriptions[topic] = "granted qos " + qos;
      }
      renderSubscriptions();
    });
  }

  function publish(topic, payload, qos, retain) {
    var client = state.client;
    if (!client || !state.connected) {
      addError("publish", "not connected: cannot publish to " + topic, topic);
      return;
    }
    lastAction = { kind: "publish", topic: topic, at: Date.now() };
    client.publish(topic, payload, { qos: qos, retain: !!retain }, function (err) {
      if (err) {
        addError("publish", "publish to " + topic + " failed: " + err.message, topic);
      }
    });
  }

  function closedReason(authRefused) {
    if (authRefused) {
      return "the server refused the connection (CONNACK not authorized): the authorizer denied the token or the client id";
    }
    if (!everConnected) {
      return "the server closed the connection before CONNACK: the authorizer denied it or the URL is wrong";
    }
    if (lastAction && Date.now() - lastAction.at < 5000) {
      return (
        "the server closed the connection right after the " + lastAction.kind + " to " +
        lastAction.topic + ": IoT Core closes the connection on a forbidden " + lastAction.kind
      );
    }
    return "the connection was closed (policy refresh denied, session expired or network)";
  }

  // Reconnects are ours, not MQTT.js's (reconnectPeriod 0): we back off exponentially
  // (IoT allows one CONNECT per second per client id, IOT_FACTS section 4) and stop after
  // the server refused the credentials (CONNACK "not authorized"), instead of hammering.
  var reconnectTimer = null;

  function cancelReconnect() {
    if (reconnectTimer) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
  }

  function disconnect() {
    cancelReconnect();
    var client = state.client;
    state.client = null;
    if (client) {
      client.end(true);
    }
    setState("disconnected");
  }

  function connect() {
    disconnect();
    var cfg = state.config;
    cfg.token = el("token").value.trim();
    var wsUrl;
    try {
      wsUrl = buildWsUrl(cfg);
    } catch (e) {
      addError("config", e.message);
      setState("error", e.message);
      return;
    }
    state.clientId = chooseClientId(cfg, root.crypto);
    state.url = redactUrl(wsUrl, cfg.tokenKeyName);
    el("client-id").textContent = state.clientId;
    el("ws-url").textContent = state.url;
    everConnected = false;
    var firstDelayMs = 2000;
    var backoffMs = 0;
    var authRefused = false;
    var client = root.mqtt.connect(wsUrl, {
      clientId: state.clientId,
      protocolVersion: cfg.protocolVersion,
      clean: true,
      keepalive: 60,
      connectTimeout: 10000,
      reconnectPeriod: 0,
      // We resubscribe ourselves to the filters that were granted: MQTT.js would also retry
      // a filter whose SUBSCRIBE made IoT close the connection, in a loop.
      resubscribe: false,
      queueQoSZero: false,
      // Use exactly our URL (MQTT.js rebuilds it from its parts otherwise).
      transformWsUrl: function () {
        return wsUrl;
      },
    });
    state.client = client;
    setState("connecting");

    client.on("connect", function () {
      everConnected = true;
      backoffMs = 0;
      setState("connected");
      var wanted = [topicFor(cfg.prefix, "server")];
      Object.keys(state.subscriptions).forEach(function (t) {
        if (state.subscriptions[t].indexOf("granted") === 0 && wanted.indexOf(t) < 0) {
          wanted.push(t);
        }
      });
      wanted.forEach(subscribe);
    });
    client.on("message", function (topic, payload, packet) {
      addMessage(topic, payload, packet);
    });
    client.on("disconnect", function (packet) {
      // MQTT 5 only: the server says why it disconnects.
      var rc = packet && typeof packet.reasonCode === "number" ? packet.reasonCode : 0;
      addError("closed", "server sent DISCONNECT, reason code 0x" + rc.toString(16));
    });
    client.on("error", function (err) {
      var code = typeof err.code === "number" ? err.code : null;
      // CONNACK 4/5 (MQTT 3.1.1) or 0x86/0x87 (MQTT 5): bad credentials or not authorized.
      if (code === 4 || code === 5 || code === 0x86 || code === 0x87) {
        authRefused = true;
      }
      addError("connection", err.message + (code === null ? "" : " (code " + code + ")"));
    });
    client.on("close", function () {
      if (client !== state.client) {
        return;
      }
      Object.keys(state.subscriptions).forEach(function (t) {
        if (state.subscriptions[t] === "pending") {
          state.subscriptions[t] = "unconfirmed";
        }
      });
      renderSubscriptions();
      addError("closed", closedReason(authRefused), lastAction ? lastAction.topic : null);
      lastAction = null;
      if (cfg.reconnect === "0" || authRefused) {
        setState("closed", authRefused ? "not authorized" : "");
        return;
      }
      backoffMs = Math.min(backoffMs ? backoffMs * 2 : firstDelayMs, 60000);
      setState("closed", "reconnecting in " + Math.round(backoffMs / 1000) + " s");
      cancelReconnect();
      reconnectTimer = setTimeout(function () {
        reconnectTimer = null;
        if (client === state.client) {
          setState("reconnecting");
          // reconnect() starts with empty message stores: unacknowledged QoS 1 publishes are
          // dropped, not resent (a forbidden one would close the connection again).
          client.reconnect();
        }
      }, backoffMs);
    });
  }

  state.connect = connect;
  state.disconnect = disconnect;
  state.subscribe = subscribe;
  state.publish = publish;

  function wireForms(cfg) {
    el("subscribe-topic").value = topicFor(cfg.prefix, "server");
    el("publish-topic").value = topicFor(cfg.prefix, "client");
    el("token").value = cfg.token || "";
    el("mode").textContent = cfg.mode;
    el("prefix").textContent = cfg.prefix || "(none)";
    el("connect-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      connect();
    });
    el("disconnect-btn").addEventListener("click", disconnect);
    el("subscribe-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var topic = el("subscribe-topic").value.trim();
      if (topic) {
        subscribe(topic);
      }
    });
    el("publish-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var topic = el("publish-topic").value.trim();
      if (topic) {
        publish(
          topic,
          el("publish-payload").value,
          Number(el("publish-qos").value) === 1 ? 1 : 0,
          el("publish-retain").checked
        );
      }
    });
  }

  function loadFileConfig() {
    return fetch("./config.json", { cache: "no-store" }).then(
      function (res) {
        if (!res.ok) {
          throw new Error("HTTP " + res.status);
        }
        return res.json();
      }
    );
  }

  function start() {
    if (!root.mqtt) {
      addError("setup", "MQTT.js is missing: ./vendor/mqtt.min.js did not load (run `make web`)");
      setState("error", "MQTT.js missing");
      state.ready = true;
      return;
    }
    loadFileConfig()
      .catch(function (e) {
        var params = new URLSearchParams(root.location.search);
        if (!params.get("url")) {
          addError(
            "config",
            "could not read ./config.json (" + e.message + "): write the Terraform output " +
              "web_config there, run `make demo`, or pass ?url=...&authorizerName=..."
          );
        }
        return {};
      })
      .then(function (fileConfig) {
        state.config = mergeConfig(fileConfig, root.location.search);
        wireForms(state.config);
        state.ready = true;
        if (state.config.url) {
          connect();
        } else {
          setState("error", "no broker URL");
        }
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(typeof window !== "undefined" ? window : globalThis);
