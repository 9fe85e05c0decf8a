/*
 * iotws chat example page: rooms and who is online, over MQTT on WebSockets (MQTT.js) to
 * AWS IoT Core with the custom authorizer.
 *
 * Plain browser script, no framework, no CDN: MQTT.js comes from ./vendor/mqtt.min.js
 * (`make web` puts it there). The pure helpers are exported for Node (`module.exports`).
 *
 * Topics (relative to the spec's prefix, examples/chat/access.yaml):
 *   publish   rooms/<room>/messages/in   read by the chat_message rule, never by clients
 *   subscribe rooms/<room>/messages      what the chat_message Lambda fans out
 *   subscribe presence                   the online list (retained), from the presence Lambda
 *
 * Test hooks: element ids (#status, #messages, #online, #room, #text, #send-btn, ...) and
 * `window.iotwsChat` (state, clientId, room, messages[], online[], errors[]).
 */
(function (root) {
  "use strict";

  // The configuration keys (INTERNALS.md "Emulator and web pages"); each may be overridden by
  // a query parameter of the same name; `token`, `clientId` and `room` are page-only.
  var CONFIG_KEYS = ["url", "authorizerName", "tokenKeyName", "prefix", "mode"];
  var PAGE_KEYS = ["token", "clientId", "room"];
  var AUTHORIZER_PARAM = "x-amz-customauthorizer-name";
  // Same rule as lambda_src/chat_message (ROOM_RE): one topic level, identity characters.
  var ROOM_RE = /^[A-Za-z0-9_.:@=|-]{1,64}$/;
  var MAX_TEXT_CHARS = 1000;
  var MAX_SHOWN = 200;

  function mergeConfig(fileConfig, search) {
    var cfg = {};
    var params = new URLSearchParams(search || "");
    CONFIG_KEYS.concat(PAGE_KEYS).forEach(function (k) {
      var fromFile = fileConfig && typeof fileConfig[k] === "string" ? fileConfig[k] : "";
      var fromQuery = params.get(k);
      cfg[k] = fromQuery !== null && fromQuery !== "" ? fromQuery : fromFile;
    });
    cfg.prefix = (cfg.prefix || "").replace(/^\/+|\/+$/g, "");
    cfg.room = cfg.room || "lobby";
    return cfg;
  }

  function topicFor(prefix, name) {
    return prefix ? prefix + "/" + name : name;
  }

  function roomTopics(prefix, room) {
    if (!ROOM_RE.test(room)) {
      throw new Error("room names use 1-64 of letters, digits and _ . : @ = | -");
    }
    return {
      publish: topicFor(prefix, "rooms/" + room + "/messages/in"),
      subscribe: topicFor(prefix, "rooms/" + room + "/messages"),
    };
  }

  /** `<url>?x-amz-customauthorizer-name=<name>&<tokenKeyName>=<token>`, every value encoded:
   * browsers cannot set WebSocket headers (IOT_FACTS section 1). */
  function buildWsUrl(cfg) {
    if (!cfg.url || !/^wss?:\/\//i.test(cfg.url)) {
      throw new Error("`url` must be a ws:// or wss:// URL (config.json or ?url=)");
    }
    var parts = [];
    if (cfg.authorizerName) {
      parts.push(AUTHORIZER_PARAM + "=" + encodeURIComponent(cfg.authorizerName));
    }
    if (cfg.token) {
      if (!cfg.tokenKeyName) {
        throw new Error("a token was given but `tokenKeyName` is empty");
      }
      parts.push(encodeURIComponent(cfg.tokenKeyName) + "=" + encodeURIComponent(cfg.token));
    }
    if (!parts.length) {
      return cfg.url;
    }
    return cfg.url + (cfg.url.indexOf("?") >= 0 ? "&" : "?") + parts.join("&");
  }

  /** The token's `sub` claim, unverified: only to build the client id `{sub}-*`. */
  function tokenSubject(token) {
    var parts = (token || "").split(".");
    if (parts.length !== 3) {
      return "";
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
      return claims && typeof claims.sub === "string" ? claims.sub : "";
    } catch (e) {
      return "";
    }
  }

  /** `<sub>-<8 hex>` (the spec's client-id rule `{sub}-*`), unless ?clientId= is given. */
  function chooseClientId(cfg, cryptoObj) {
    if (cfg.clientId) {
      return cfg.clientId;
    }
    var bytes = new Uint8Array(4);
    cryptoObj.getRandomValues(bytes);
    var suffix = Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
    return (tokenSubject(cfg.token) || "anon") + "-" + suffix;
  }

  /** A room message as the chat_message Lambda publishes it, or null. */
  function parseChatMessage(text) {
    try {
      var m = JSON.parse(text);
      if (
        m &&
        typeof m.id === "string" &&
        typeof m.text === "string" &&
        typeof m.client_id === "string" &&
        typeof m.room === "string" &&
        typeof m.ts === "number"
      ) {
        return m;
      }
    } catch (e) {
      /* not JSON: ignored */
    }
    return null;
  }

  /** The online list the presence Lambda publishes, or null. */
  function parsePresence(text) {
    try {
      var p = JSON.parse(text);
      if (p && p.type === "presence" && Array.isArray(p.online)) {
        return p.online.filter(function (id) {
          return typeof id === "string";
        });
      }
    } catch (e) {
      /* not JSON: ignored */
    }
    return null;
  }

  var lib = {
    mergeConfig: mergeConfig,
    topicFor: topicFor,
    roomTopics: roomTopics,
    buildWsUrl: buildWsUrl,
    tokenSubject: tokenSubject,
    chooseClientId: chooseClientId,
    parseChatMessage: parseChatMessage,
    parsePresence: parsePresence,
    MAX_TEXT_CHARS: MAX_TEXT_CHARS,
  };
  if (typeof module === "object" && module.exports) {
    module.exports = lib;
  }
  if (typeof document === "undefined") {
    return;
  }

  // ---------------------------------------------------------------------- the page

  var state = {
    state: "idle",
    clientId: "",
    room: "",
    messages: [],
    online: [],
    errors: [],
    seen: {},
    client: null,
    cfg: null,
    lib: lib,
  };
  root.iotwsChat = state;

  function el(id) {
    return document.getElementById(id);
  }

  function setStatus(name, detail) {
    state.state = name;
    var status = el("status");
    status.textContent = detail ? name + ": " + detail : name;
    status.setAttribute("data-state", name);
    el("send-btn").disabled = name !== "connected";
  }

  function addError(message) {
    state.errors.push(message);
    var li = document.createElement("li");
    li.textContent = new Date().toISOString() + " " + message;
    el("errors").prepend(li);
  }

  function showMessage(m) {
    if (state.seen[m.id]) {
      return; // a Lambda retry carries the same id
    }
    state.seen[m.id] = true;
    state.messages.push(m);
    var li = document.createElement("li");
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.client_id + (m.client_id === state.clientId ? " (you)" : "");
    var when = document.createElement("time");
    when.textContent = new Date(m.ts).toLocaleTimeString();
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = m.text; // text only, never parsed as HTML: messages are user input
    li.append(when, " ", who, ": ", text);
    var list = el("messages");
    list.append(li);
    while (list.children.length > MAX_SHOWN) {
      list.removeChild(list.firstChild);
    }
  }

  function showOnline(ids) {
    state.online = ids.slice().sort();
    var list = el("online");
    list.textContent = "";
    state.online.forEach(function (id) {
      var li = document.createElement("li");
      li.textContent = id + (id === state.clientId ? " (you)" : "");
      list.append(li);
    });
  }

  function joinRoom(room) {
    var topics;
    try {
      topics = roomTopics(state.cfg.prefix, room);
    } catch (e) {
      addError(e.message);
      return;
    }
    var client = state.client;
    if (state.room && state.room !== room) {
      client.unsubscribe(roomTopics(state.cfg.prefix, state.room).subscribe);
    }
    state.room = room;
    el("room").value = room;
    el("messages").textContent = "";
    client.subscribe(topics.subscribe, { qos: 1 }, function (err, granted) {
      if (err || (granted && granted[0] && granted[0].qos & 0x80)) {
        addError("subscribe refused: " + topics.subscribe);
      }
    });
  }

  function connect(cfg) {
    var url;
    try {
      url = buildWsUrl(cfg);
    } catch (e) {
      setStatus("error", e.message);
      return;
    }
    state.clientId = chooseClientId(cfg, root.crypto);
    el("client-id").textContent = state.clientId;
    setStatus("connecting");
    // Back off on reconnects: IoT allows 1 CONNECT per second per client id (IOT_FACTS 4).
    var client = root.mqtt.connect(url, {
      clientId: state.clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 5000,
    });
    state.client = client;
    client.on("connect", function () {
      setStatus("connected");
      var presence = topicFor(cfg.prefix, "presence");
      client.subscribe(presence, { qos: 1 }, function (err, granted) {
        if (err || (granted && granted[0] && granted[0].qos & 0x80)) {
          addError("subscribe refused: " + presence);
        }
      });
      var room = state.room || cfg.room;
      state.room = "";
      joinRoom(room);
    });
    client.on("message", function (topic, payload) {
      var text = new TextDecoder("utf-8").decode(payload);
      if (topic === topicFor(cfg.prefix, "presence")) {
        var ids = parsePresence(text);
        if (ids) {
          showOnline(ids);
        }
        return;
      }
      var m = parseChatMessage(text);
      if (m && m.room === state.room) {
        showMessage(m);
      }
    });
    client.on("close", function () {
      setStatus("disconnected", "reconnecting in 5 s");
    });
    client.on("error", function (err) {
      addError(err && err.message ? err.message : String(err));
    });
  }

  function send(event) {
    event.preventDefault();
    var input = el("text");
    var text = input.value.trim();
    if (!text || !state.client) {
      return;
    }
    if (text.length > MAX_TEXT_CHARS) {
      addError("messages are at most " + MAX_TEXT_CHARS + " characters");
      return;
    }
    var topic = roomTopics(state.cfg.prefix, state.room).publish;
    state.client.publish(topic, JSON.stringify({ text: text }), { qos: 1 });
    input.value = "";
  }

  function start() {
    el("send-form").addEventListener("submit", send);
    el("room-form").addEventListener("submit", function (event) {
      event.preventDefault();
      if (state.client) {
        joinRoom(el("room").value.trim());
      }
    });
    fetch("./config.json", { cache: "no-store" })
      .then(function (r) {
        return r.ok ? r.json() : {};
      })
      .catch(function () {
        return {};
      })
      .then(function (fileConfig) {
        var cfg = mergeConfig(fileConfig, root.location.search);
        state.cfg = cfg;
        el("prefix").textContent = cfg.prefix || "(none)";
        el("room").value = cfg.room;
        if (!cfg.token) {
          setStatus("error", "no token: open this page with ?token=<your token>");
          return;
        }
        connect(cfg);
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(typeof window !== "undefined" ? window : globalThis);
