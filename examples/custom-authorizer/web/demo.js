/*
 * iotws custom-authorizer example page: MQTT over WebSockets to AWS IoT Core (or the local
 * emulator) with MQTT.js, authenticated by the custom authorizer.
 *
 * Plain browser script, no framework, no CDN: MQTT.js comes from ./vendor/mqtt.min.js and the
 * iotws client (token refresh, reconnects, readable close reasons; client/ in the kit) from
 * ./vendor/iotws-client.js (`make web` puts both there). The pure helpers at the top are also exported for Node so the
 * tests can check them (`module.exports` below); the page logic runs only in a browser.
 *
 * Test hooks: stable element ids (#status, #messages, #errors, #subscribe-topic, ...) and
 * `window.iotwsDemo` (connected, state, clientId, messages[], errors[], subscriptions{}).
 */
(function (root) {
  "use strict";

  // The configuration keys (INTERNALS.md "Emulator and web pages"); each one may be
  // overridden by a query parameter of the same name. `token`, `tokenUrl`, `clientId`,
  // `protocolVersion`, `reconnect`, `sessionSeconds`, `renewBeforeSeconds` and
  // `maxAuthFailures` are page-only parameters.
  var CONFIG_KEYS = ["url", "authorizerName", "tokenKeyName", "prefix", "mode"];
  var PAGE_KEYS = [
    "token",
    "tokenUrl",
    "clientId",
    "protocolVersion",
    "reconnect",
    "sessionSeconds",
    "renewBeforeSeconds",
    "maxAuthFailures",
  ];
  var MAX_SHOWN_MESSAGES = 200;
  var MAX_KEPT_MESSAGES = 1000;

  /** Merge config.json with the page's query string (query parameters win when non-empty). */
  function mergeConfig(fileConfig, search) {
    var cfg = {};
    var keys = CONFIG_KEYS.concat(PAGE_KEYS);
    var params = new URLSearchParams(search || "");
    keys.forEach(function (k) {
      var v = fileConfig ? fileConfig[k] : undefined;
      var fromFile = typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
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
   * The MQTT client id: the one given, else `u-<sub>-<random>` for a token with a `sub`
   * claim, else `anon-<random>` for guests. These match the example's access spec client-id
   * rules (`anon-*`, `u-{sub}-*`: disjoint ranges, so no user can take a guest's id); the
   * authorizer binds iot:Connect to the exact id, so pass ?clientId= if your spec uses
   * other rules. `sub` is read (unverified) by the client module.
   */
  function chooseClientId(cfg, sub, cryptoObj) {
    if (cfg.clientId) {
      return cfg.clientId;
    }
    return (sub ? "u-" + sub : "anon") + "-" + randomSuffix(cryptoObj);
  }

  /** A positive number from a config string, or undefined. */
  function numberOption(text) {
    var n = Number(text);
    return text !== "" && text !== undefined && isFinite(n) && n > 0 ? n : undefined;
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
    chooseClientId: chooseClientId,
    numberOption: numberOption,
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

  function subscribe(topic) {
    var conn = state.client;
    if (!conn) {
      addError("subscribe", "not connected: cannot subscribe to " + topic, topic);
      return;
    }
    state.subscriptions[topic] = "pending";
    renderSubscriptions();
    // The client keeps the filter across reconnects until the server refuses it; its "error"
    // event reports a refusal with a readable message that names the filter.
    conn.subscribe(topic, { qos: 1 }).then(function (res) {
      if (conn !== state.client) {
        return;
      }
      state.subscriptions[topic] = res.ok ? "granted qos " + res.qos : "refused";
      renderSubscriptions();
    });
  }

  function publish(topic, payload, qos, retain) {
    var conn = state.client;
    if (!conn) {
      addError("publish", "not connected: cannot publish to " + topic, topic);
      return;
    }
    conn.publish(topic, payload, { qos: qos, retain: !!retain });
  }

  function disconnect() {
    var conn = state.client;
    state.client = null;
    if (conn) {
      conn.end();
    }
    setState("disconnected");
  }

  /** The token for each connection: from `tokenUrl` (fresh each time) or the form field. */
  function tokenSource(cfg) {
    var fromField = el("token").value.trim();
    if (cfg.tokenUrl) {
      return function () {
        return fetch(cfg.tokenUrl, { cache: "no-store", credentials: "include" }).then(function (res) {
          if (!res.ok) {
            throw new Error(cfg.tokenUrl + " answered HTTP " + res.status);
          }
          return res.json().then(function (body) {
            return body && body.token;
          });
        });
      };
    }
    if (!fromField) {
      return undefined; // a guest: no token at all
    }
    return function () {
      return fromField;
    };
  }

  function connect() {
    disconnect();
    var cfg = state.config;
    var conn;
    try {
      conn = root.iotws.connect({
        url: cfg.url,
        authorizerName: cfg.authorizerName || undefined,
        tokenKeyName: cfg.tokenKeyName || undefined,
        getToken: tokenSource(cfg),
        clientId: function (info) {
          return chooseClientId(cfg, info.sub, root.crypto);
        },
        protocolVersion: cfg.protocolVersion,
        sessionSeconds: numberOption(cfg.sessionSeconds),
        renewBeforeSeconds: numberOption(cfg.renewBeforeSeconds),
        maxAuthFailures: cfg.reconnect === "0" ? 1 : numberOption(cfg.maxAuthFailures),
      });
    } catch (e) {
      addError("config", e.message);
      setState("error", e.message);
      return;
    }
    state.client = conn;
    conn.on("state", function (ev) {
      if (conn !== state.client) {
        return;
      }
      state.clientId = conn.clientId || "";
      state.url = conn.url || "";
      el("client-id").textContent = state.clientId || "-";
      el("ws-url").textContent = state.url || "-";
      setState(ev.state, ev.detail);
    });
    conn.on("connect", function (ev) {
      state.connections = ev.connections;
      state.sessionPresent = ev.sessionPresent;
      var server = topicFor(cfg.prefix, "server");
      if (!state.subscriptions[server] || state.subscriptions[server] === "unconfirmed") {
        subscribe(server);
      }
    });
    conn.on("subscribe", function (ev) {
      state.subscriptions[ev.topic] = ev.granted ? "granted qos " + ev.qos : "refused";
      renderSubscriptions();
    });
    conn.on("message", function (ev) {
      addMessage(ev.topic, ev.payload, ev);
    });
    conn.on("error", function (ev) {
      addError(ev.code, ev.message, ev.topic);
    });
    conn.on("close", function (ev) {
      if (ev.code === "renew") {
        return; // a planned reconnect with a fresh token: not a problem
      }
      addError("closed", ev.message, ev.topic);
      if (cfg.reconnect === "0" && ev.willRetry) {
        conn.end();
        setState("closed", ev.message);
      }
    });
    conn.on("stopped", function (ev) {
      addError("stopped", ev.message);
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
    if (!root.mqtt || !root.iotws) {
      addError(
        "setup",
        "MQTT.js or the iotws client is missing: ./vendor/mqtt.min.js or ./vendor/iotws-client.js did not load (run `make web`)"
      );
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
