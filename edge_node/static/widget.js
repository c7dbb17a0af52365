// Triage chat widget: one script tag, no framework, no build step.
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-storefront]");
  var storefront = (script && script.dataset.storefront) || "demo";
  var lang = (script && script.dataset.lang) || (navigator.language || "en").slice(0, 2);
  var base = script && script.src ? new URL(script.src) : location;
  var url = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/v1/chat";
  var key = "triage:" + storefront;
  var state = JSON.parse(localStorage.getItem(key) || '{"session":null,"seq":0,"log":[]}');
  var ws, backoff = 500, counter = 0;

  var css = ".tg-b{position:fixed;right:20px;bottom:20px;width:340px;max-height:480px;display:flex;" +
    "flex-direction:column;background:var(--triage-bg,#fff);color:var(--triage-fg,#1d2330);border-radius:12px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.2);font:14px system-ui,sans-serif;overflow:hidden}" +
    ".tg-h{background:var(--triage-accent,#2459d6);color:#fff;padding:10px 14px;font-weight:600}" +
    ".tg-l{flex:1;overflow-y:auto;padding:10px;min-height:200px}.tg-m{margin:6px 0;padding:8px 10px;" +
    "border-radius:10px;max-width:85%;white-space:pre-wrap}.tg-u{background:var(--triage-accent,#2459d6);" +
    "color:#fff;margin-left:auto}.tg-a{background:#eef0f4}.tg-f{display:flex;border-top:1px solid #ddd}" +
    ".tg-f input{flex:1;border:0;padding:10px;font:inherit}.tg-f button{border:0;background:none;" +
    "color:var(--triage-accent,#2459d6);font-weight:600;padding:0 12px;cursor:pointer}.tg-s{font-size:12px;color:#888;padding:0 10px}";
  var style = document.createElement("style"); style.textContent = css; document.head.appendChild(style);
  var box = document.createElement("div"); box.className = "tg-b"; box.setAttribute("role", "dialog");
  box.innerHTML = '<div class="tg-h">Support</div><div class="tg-l" aria-live="polite"></div>' +
    '<div class="tg-s"></div><form class="tg-f"><input aria-label="Message" maxlength="1000" autocomplete="off">' +
    '<button type="submit">Send</button></form>';
  document.body.appendChild(box);
  var list = box.querySelector(".tg-l"), status = box.querySelector(".tg-s");
  var form = box.querySelector("form"), input = box.querySelector("input");

  function show(who, text) {
    var el = document.createElement("div"); el.className = "tg-m " + (who === "user" ? "tg-u" : "tg-a");
    el.textContent = text; list.appendChild(el); list.scrollTop = list.scrollHeight;
  }
  function save() { localStorage.setItem(key, JSON.stringify(state)); }
  state.log.forEach(function (m) { show(m.who, m.text); });

  function connect() {
    ws = new WebSocket(url);
    ws.onopen = function () {
      backoff = 500; status.textContent = "";
      ws.send(JSON.stringify({type: "hello", storefront: storefront, token: "", session: state.session,
                              last_seq: state.seq, lang: lang}));
    };
    ws.onmessage = function (ev) {
      var f = JSON.parse(ev.data);
      if (f.type === "welcome") { state.session = f.session; save(); }
      else if (f.type === "typing") { status.textContent = "…"; }
      else if (f.type === "answer") {
        status.textContent = ""; if (f.seq <= state.seq) return;
        state.seq = f.seq; state.log.push({who: "bot", text: f.text}); save(); show("bot", f.text);
      } else if (f.type === "error") { status.textContent = f.message; }
    };
    ws.onclose = function () {
      status.textContent = "Reconnecting…"; setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 10000);
    };
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault(); var text = input.value.trim(); if (!text || !ws || ws.readyState !== 1) return;
    counter += 1; ws.send(JSON.stringify({type: "message", id: "m" + Date.now() + "-" + counter, text: text}));
    state.log.push({who: "user", text: text}); save(); show("user", text); input.value = "";
  });
  connect();
})();
