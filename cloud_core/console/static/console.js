/* The agent console: an inbox of a shop's cases streamed from /api/events, and the actions on one. No build step. */
(function () {
  "use strict";
  var cases = {}, selected = null, source = null, drafts = {};
  var STATE = {CASE_STATE_FLAGGED: "Flagged", CASE_STATE_PERSON: "Handed off", CASE_STATE_PROPOSED: "Proposal",
    CASE_STATE_ANSWERED: "Answered", CASE_STATE_CLOSED: "Closed"};
  var ROLE = {ROLE_SHOPPER: "Shopper", ROLE_ASSISTANT: "Assistant", ROLE_AGENT: "Agent"};
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function api(path, body) {
    return fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "X-Triage-Console": "1"},
      body: JSON.stringify(body || {})}).then(function (r) {
      return r.json().then(function (data) { if (!r.ok) throw new Error(data.error || r.statusText); return data; });
    });
  }
  function money(m) {
    if (!m || !m.currency) return "";
    var minor = Number(m.amount_minor || 0);
    try { return new Intl.NumberFormat(undefined, {style: "currency", currency: m.currency}).format(minor / 100); }
    catch (e) { return (minor / 100).toFixed(2) + " " + m.currency; }
  }
  function when(ts) { return ts ? new Date(ts).toLocaleString() : ""; }
  function uid() { return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2); }

  function showLogin(message) {
    if (source) { source.close(); source = null; }
    $("app").hidden = true; $("logout").hidden = true; $("who").textContent = ""; $("login").hidden = false;
    $("login-error").textContent = message || ""; $("token").focus();
  }
  function showApp(agent) {
    $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
    $("who").textContent = agent.display_name + " · " + agent.tenant;
    connect();
  }
  function connect() {
    if (source) source.close();
    source = new EventSource("/api/events");
    source.addEventListener("ready", function () { $("live").textContent = "live"; $("live").className = "live"; });
    source.addEventListener("case", function (ev) {
      var event = JSON.parse(ev.data), c = event.case;
      cases[c.case_id] = c;
      renderList();
      if (selected === c.case_id) renderDetail();
    });
    source.addEventListener("failed", function (ev) {
      var data = JSON.parse(ev.data);
      if (data.code === "UNAUTHENTICATED" || data.code === "PERMISSION_DENIED") showLogin(data.error);
    });
    source.onerror = function () {
      $("live").textContent = "reconnecting…"; $("live").className = "live off";
      fetch("/api/me").then(function (r) { if (r.status === 401) showLogin("Your session ended; sign in again."); });
    };
  }

  function visible(c) {
    var state = $("f-state").value, lang = $("f-lang").value;
    if (lang && c.lang !== lang) return false;
    if (state === "all") return true;
    if (state === "open") return c.state !== "CASE_STATE_CLOSED";
    return c.state === state;
  }
  function renderList() {
    var list = $("cases"), langs = {}, all = Object.keys(cases).map(function (k) { return cases[k]; });
    all.forEach(function (c) { langs[c.lang] = 1; });
    var pick = $("f-lang"), have = {};
    Array.prototype.forEach.call(pick.options, function (o) { have[o.value] = 1; });
    Object.keys(langs).sort().forEach(function (l) { if (!have[l]) pick.appendChild(new Option(l, l)); });
    all.sort(function (a, b) { return (b.updated_at || "").localeCompare(a.updated_at || ""); });
    list.innerHTML = "";
    var shown = all.filter(visible);
    if (!shown.length) { list.appendChild(el("li", "empty", "No cases here.")); return; }
    shown.forEach(function (c) {
      var li = el("li", selected === c.case_id ? "sel" : "");
      li.setAttribute("data-case", c.case_id);
      li.setAttribute("data-state", c.state);
      var t = el("div", "t");
      t.appendChild(el("span", "", c.case_id));
      t.appendChild(el("span", "b " + c.state.replace("CASE_STATE_", ""), STATE[c.state] || c.state));
      t.appendChild(el("span", "b", c.lang));
      if (c.proposed) t.appendChild(el("span", "b", money(c.proposed)));
      li.appendChild(t);
      li.appendChild(el("div", "c", (c.order_id ? "Order " + c.order_id + " · " : "") + ((c.summary && c.summary.claim) ||
        (c.conversation && c.conversation.length ? c.conversation[0].text : ""))));
      li.addEventListener("click", function () { selected = c.case_id; renderList(); renderDetail(); });
      list.appendChild(li);
    });
  }

  function renderDetail() {
    var c = cases[selected], d = $("detail");
    if (!c) return;
    var draft = drafts[c.case_id];
    d.innerHTML = "";
    var head = el("div", "card"), h = el("h3", "", "Case " + c.case_id);
    head.appendChild(h);
    head.appendChild(el("div", "mu", [STATE[c.state], c.lang, c.customer_id ? "customer " + c.customer_id : "anonymous shopper",
      c.order_id ? "order " + c.order_id : "", "opened " + when(c.created_at)].filter(Boolean).join(" · ")));
    if (c.decision) head.appendChild(el("div", "", c.decision));
    if (c.followed_up) head.appendChild(el("div", "mu", "The shopper got the no-reply-yet follow-up."));
    if (!c.deliverable) head.appendChild(el("div", "mu", "Not from a chat session: a reply is recorded, not delivered."));
    d.appendChild(head);
    var s = c.summary;
    if (s && s.case_id) {
      var card = el("div", "card");
      card.appendChild(el("h3", "", "Summary · " + s.procedure + " (policy rule " + s.rule + ")"));
      card.appendChild(el("div", "", "Claim: " + s.claim));
      var table = el("table", "checks");
      (s.checks || []).forEach(function (k) { var tr = el("tr"); tr.appendChild(el("td", "", k.name)); tr.appendChild(el("td", "", k.value)); table.appendChild(tr); });
      card.appendChild(table);
      card.appendChild(el("div", "", "Outcome: " + s.outcome));
      if (s.writes && s.writes.length) card.appendChild(el("div", "", "Shop writes: " + s.writes.join("; ")));
      d.appendChild(card);
    }
    if (c.state === "CASE_STATE_PROPOSED") {
      var prop = el("div", "card"), row = el("div", "prop");
      prop.appendChild(el("h3", "", "Proposal awaiting your decision"));
      row.appendChild(el("span", "amt", money(c.proposed) || "—"));
      var approve = el("button", "ok", "Approve refund"), reject = el("button", "bad", "Reject"), note = el("input", "note");
      approve.id = "approve"; reject.id = "reject"; note.id = "note"; note.placeholder = "Note (why, for a rejection)";
      approve.addEventListener("click", function () { act(approve, "/decide", {approve: true, note: note.value}); });
      reject.addEventListener("click", function () { act(reject, "/decide", {approve: false, note: note.value}); });
      row.appendChild(approve); row.appendChild(reject); row.appendChild(note);
      prop.appendChild(row);
      d.appendChild(prop);
    }
    var conv = el("div", "card"), list = el("div", "conv");
    conv.appendChild(el("h3", "", "Conversation"));
    (c.conversation || []).forEach(function (m) {
      var b = el("div", "m " + m.role, m.text);
      b.setAttribute("dir", "auto");
      b.appendChild(el("small", "", (m.author || ROLE[m.role] || "") + " · " + when(m.at)));
      list.appendChild(b);
    });
    conv.appendChild(list);
    d.appendChild(conv);
    if (c.state !== "CASE_STATE_CLOSED") {
      var reply = el("div", "card"), box = el("textarea"), qr = el("input", "qr"), send = el("button", "p", "Send reply");
      var close = el("button", "s", "Close case"), err = el("div", "err");
      reply.appendChild(el("h3", "", "Reply to the shopper (" + c.lang + ")"));
      box.id = "reply"; box.setAttribute("dir", "auto"); box.setAttribute("lang", c.lang);
      box.value = draft !== undefined ? draft : (c.suggested_reply || "");
      box.addEventListener("input", function () { drafts[c.case_id] = box.value; });
      qr.id = "quick"; qr.placeholder = "Quick replies, comma-separated (optional)";
      send.id = "send"; close.id = "close"; err.id = "action-error"; err.setAttribute("role", "alert");
      if (c.suggested_reply && draft === undefined) reply.appendChild(el("div", "mu", "Starting point from the shop's catalog, in the shopper's language: edit before sending."));
      reply.appendChild(box);
      var row2 = el("div", "row"); row2.appendChild(qr); row2.appendChild(send); row2.appendChild(close);
      reply.appendChild(row2); reply.appendChild(err);
      send.addEventListener("click", function () {
        var text = box.value.trim();
        if (!text) { err.textContent = "Write a reply first."; return; }
        var quick = qr.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        act(send, "/reply", {text: text, request_id: send.dataset.rid || (send.dataset.rid = uid()), quick_replies: quick}, function () { delete drafts[c.case_id]; });
      });
      close.addEventListener("click", function () { act(close, "/close", {}); });
      d.appendChild(reply);
    }
  }

  function act(button, path, body, done) {
    var err = $("action-error");
    button.disabled = true;
    api("/api/cases/" + encodeURIComponent(selected) + path, body).then(function (view) {
      cases[view.case_id] = view;
      if (done) done();
      renderList(); renderDetail();
    }).catch(function (e) {
      button.disabled = false;
      if (err) err.textContent = e.message;
    });
  }

  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    api("/api/login", {token: $("token").value}).then(function (agent) { $("token").value = ""; showApp(agent); })
      .catch(function (e) { $("login-error").textContent = e.message; });
  });
  $("logout").addEventListener("click", function () { api("/api/logout").then(function () { cases = {}; selected = null; showLogin(); }); });
  $("f-state").addEventListener("change", renderList);
  $("f-lang").addEventListener("change", renderList);
  fetch("/api/me").then(function (r) { return r.ok ? r.json().then(showApp) : showLogin(); }).catch(function () { showLogin(); });
})();
