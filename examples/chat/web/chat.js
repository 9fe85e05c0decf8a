/*
 * iotws chat example page: rooms and who is online, over MQTT on WebSockets (MQTT.js) to
 * AWS IoT Core with the custom authorizer.
 *
 * Plain browser script, no framework, no CDN: MQTT.js comes from ./vendor/mqtt.min.js and the
 * iotws client (fresh credentials on every connection, reconnects with backoff, readable close
 * reasons; client/ in the kit) from ./vendor/iotws-client.js (`make web` puts both there).
 * The pure helpers are exported for Node (`module.exports`).
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

  /** `<sub>-<8 hex>` (the spec's client-id rule `{sub}-*`), unless ?clientId= is given. `sub`
   * is the token's claim, read (unverified) by the client module. */
  function chooseClientId(cfg, sub, cryptoObj) {
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
    return (sub || "anon") + "-" + suffix;
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

  function watch(topic) {
    // The client keeps the subscription across reconnects; a refusal arrives as an "error"
    // event that names the topic.
    state.client.subscribe(topic, { qos: 1 });
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
    watch(topics.subscribe);
  }

  function connect(cfg) {
    var client;
    try {
      // The token from the page's URL for every connection; a page of a real app would fetch
      // a fresh one from its backend here.
      client = root.iotws.connect({
        url: cfg.url,
        authorizerName: cfg.authorizerName || undefined,
        tokenKeyName: cfg.tokenKeyName || undefined,
        getToken: function () {
          return cfg.token;
        },
        clientId: function (info) {
          return chooseClientId(cfg, info.sub, root.crypto);
        },
      });
    } catch (e) {
      setStatus("error", e.message);
      return;
    }
    state.client = client;
    setStatus("connecting");
    client.on("state", function (ev) {
      state.clientId = client.clientId || "";
      el("client-id").textContent = state.clientId || "-";
      setStatus(ev.state === "waiting" ? "disconnected" : ev.state, ev.detail);
    });
    client.on("connect", function () {
      if (!state.room) {
        watch(topicFor(cfg.prefix, "presence"));
        joinRoom(cfg.room);
      }
    });
    client.on("message", function (ev) {
      var text = ev.text;
      if (ev.topic === topicFor(cfg.prefix, "presence")) {
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
    client.on("error", function (ev) {
      addError(ev.message);
    });
    client.on("close", function (ev) {
      if (ev.code !== "renew") {
        addError(ev.message);
      }
    });
    client.on("stopped", function (ev) {
      setStatus("error", ev.message);
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
    state.client.publish(topic, JSON.stringify({ text: text }), { qos: 1 }).then(function (res) {
      if (!res.ok) {
        addError("not sent: " + res.reason);
      }
    });
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
