/* Triage chat widget. Embed with one tag, no framework, no build step:
 *   <script src="https://EDGE/widget.js" data-storefront="demo" async></script>
 * or place <triage-chat storefront="demo" lang="de" theme="dark" token="..."></triage-chat> after loading it.
 * Attributes: storefront, lang (else the browser's), theme (light|dark|auto), token (signed session
 * token from the shop's backend; without one the shopper is anonymous), open (start opened).
 * Theming: --triage-accent, --triage-bg, --triage-fg, --triage-bubble, --triage-radius on the element.
 */
(function () {
  "use strict";
  var I18N = {
    en: ["Support", "Type your message…", "Send", "Open chat", "Close chat", "A specialist is looking into this…",
      "You're offline. Messages will be sent when the connection is back.", "That message is too long (max %n characters).",
      "You're sending messages quickly — please wait a moment.", "Connecting…", "Queued", "Typing…", "Something went wrong, please try again.", "Support team"],
    de: ["Kundenservice", "Ihre Nachricht…", "Senden", "Chat öffnen", "Chat schließen", "Ein Spezialist kümmert sich darum…",
      "Sie sind offline. Nachrichten werden gesendet, sobald die Verbindung wieder da ist.", "Die Nachricht ist zu lang (max. %n Zeichen).",
      "Sie senden sehr schnell – bitte warten Sie einen Moment.", "Verbinde…", "In Warteschlange", "Schreibt…", "Etwas ist schiefgelaufen, bitte erneut versuchen.", "Kundenservice-Team"],
    fr: ["Assistance", "Votre message…", "Envoyer", "Ouvrir le chat", "Fermer le chat", "Un spécialiste s'en occupe…",
      "Vous êtes hors ligne. Les messages partiront dès le retour de la connexion.", "Message trop long (max. %n caractères).",
      "Vous envoyez des messages très vite, patientez un instant.", "Connexion…", "En attente", "Écrit…", "Une erreur est survenue, réessayez.", "Équipe d'assistance"],
    es: ["Atención al cliente", "Escribe tu mensaje…", "Enviar", "Abrir chat", "Cerrar chat", "Un especialista se está ocupando…",
      "Sin conexión. Los mensajes se enviarán cuando vuelva la conexión.", "El mensaje es demasiado largo (máx. %n caracteres).",
      "Estás enviando mensajes muy rápido; espera un momento.", "Conectando…", "En cola", "Escribiendo…", "Algo salió mal, inténtalo de nuevo.", "Equipo de atención"],
    it: ["Assistenza", "Scrivi un messaggio…", "Invia", "Apri la chat", "Chiudi la chat", "Uno specialista se ne sta occupando…",
      "Sei offline. I messaggi partiranno al ritorno della connessione.", "Messaggio troppo lungo (max %n caratteri).",
      "Stai inviando messaggi molto velocemente, attendi un momento.", "Connessione…", "In coda", "Sta scrivendo…", "Qualcosa è andato storto, riprova.", "Team di assistenza"],
    pt: ["Apoio ao cliente", "Escreva a sua mensagem…", "Enviar", "Abrir chat", "Fechar chat", "Um especialista está a tratar disto…",
      "Está offline. As mensagens serão enviadas quando a ligação voltar.", "Mensagem demasiado longa (máx. %n caracteres).",
      "Está a enviar mensagens muito depressa; aguarde um momento.", "A ligar…", "Em fila", "A escrever…", "Algo correu mal, tente novamente.", "Equipa de apoio"],
    nl: ["Klantenservice", "Typ je bericht…", "Verstuur", "Chat openen", "Chat sluiten", "Een specialist kijkt ernaar…",
      "Je bent offline. Berichten worden verstuurd zodra de verbinding terug is.", "Bericht is te lang (max. %n tekens).",
      "Je verstuurt erg snel berichten, wacht even.", "Verbinden…", "In wachtrij", "Typt…", "Er ging iets mis, probeer opnieuw.", "Klantenserviceteam"],
    pl: ["Obsługa klienta", "Napisz wiadomość…", "Wyślij", "Otwórz czat", "Zamknij czat", "Specjalista zajmuje się sprawą…",
      "Jesteś offline. Wiadomości zostaną wysłane po przywróceniu połączenia.", "Wiadomość jest za długa (maks. %n znaków).",
      "Wysyłasz wiadomości bardzo szybko, poczekaj chwilę.", "Łączenie…", "W kolejce", "Pisze…", "Coś poszło nie tak, spróbuj ponownie.", "Zespół obsługi"],
    ar: ["الدعم", "اكتب رسالتك…", "إرسال", "فتح المحادثة", "إغلاق المحادثة", "يقوم أحد المختصين بمراجعة طلبك…",
      "أنت غير متصل. سيتم إرسال الرسائل عند عودة الاتصال.", "الرسالة طويلة جدًا (الحد الأقصى %n حرفًا).",
      "أنت ترسل الرسائل بسرعة كبيرة، يرجى الانتظار قليلًا.", "جارٍ الاتصال…", "في الانتظار", "يكتب…", "حدث خطأ، يرجى المحاولة مرة أخرى.", "فريق الدعم"]
  };
  var KEYS = ["title", "placeholder", "send", "open", "close", "specialist", "offline", "tooLong", "tooFast",
    "connecting", "queued", "typing", "error", "team"];
  var RTL = {ar: 1, he: 1, fa: 1, ur: 1};
  var MAX_CHARS = 1000, TYPING_TIMEOUT_MS = 20000, HISTORY = 200;

  var CSS = ":host{--a:var(--triage-accent,#2459d6);--bg:var(--triage-bg,#fff);--fg:var(--triage-fg,#1d2330);" +
    "--bu:var(--triage-bubble,#eef0f4);--r:var(--triage-radius,14px);--mu:#6b7280;all:initial;font:14px/1.4 system-ui,sans-serif}" +
    ":host([data-theme=dark]){--bg:var(--triage-bg,#1b1f27);--fg:var(--triage-fg,#e8eaf0);--bu:var(--triage-bubble,#2a303b);--mu:#9aa3b2}" +
    "@media (prefers-color-scheme:dark){:host([data-theme=auto]){--bg:var(--triage-bg,#1b1f27);--fg:var(--triage-fg,#e8eaf0);" +
    "--bu:var(--triage-bubble,#2a303b);--mu:#9aa3b2}}" +
    ".w{position:fixed;inset-inline-end:20px;bottom:20px;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;gap:10px;color:var(--fg)}" +
    ".w[dir=rtl]{align-items:flex-start}" +
    ".l{width:56px;height:56px;border-radius:50%;border:0;background:var(--a);color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);display:grid;place-items:center}" +
    ".l:focus-visible,.f button:focus-visible,.q button:focus-visible,.f textarea:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".p{width:min(360px,calc(100vw - 40px));height:min(520px,calc(100vh - 110px));display:flex;flex-direction:column;" +
    "background:var(--bg);border-radius:var(--r);box-shadow:0 10px 40px rgba(0,0,0,.25);overflow:hidden}" +
    ".p[hidden]{display:none}.h{background:var(--a);color:#fff;padding:12px 14px;font-weight:600;display:flex;justify-content:space-between}" +
    ".h button{background:none;border:0;color:#fff;font-size:18px;cursor:pointer}" +
    ".b{background:#b45309;color:#fff;font-size:12px;padding:6px 12px}.b[hidden]{display:none}" +
    ".m{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:6px}" +
    ".g{padding:8px 11px;border-radius:var(--r);max-width:82%;white-space:pre-wrap;word-wrap:break-word;background:var(--bu)}" +
    ".g.u{background:var(--a);color:#fff;align-self:flex-end}.g.s{align-self:flex-start}" +
    ".g.p{border-inline-start:3px solid var(--a)}" +
    ".g .t{display:block;font-size:11px;color:var(--mu);margin-top:3px}.g.pending{opacity:.6}" +
    ".n{font-size:12px;color:var(--mu);padding:2px 12px;min-height:18px}" +
    ".q{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 6px}.q button{border:1px solid var(--a);color:var(--a);background:none;" +
    "border-radius:999px;padding:4px 10px;cursor:pointer;font:inherit}" +
    ".f{display:flex;border-top:1px solid rgba(127,127,127,.25)}.f textarea{flex:1;border:0;padding:10px 12px;resize:none;" +
    "font:inherit;background:var(--bg);color:var(--fg);height:42px}.f button{border:0;background:none;color:var(--a);font-weight:600;padding:0 14px;cursor:pointer}" +
    ".d span{display:inline-block;width:6px;height:6px;margin:0 2px;border-radius:50%;background:var(--mu);animation:k 1s infinite}" +
    ".d span:nth-child(2){animation-delay:.2s}.d span:nth-child(3){animation-delay:.4s}@keyframes k{50%{opacity:.2}}";

  function customerOf(token) {
    // The customer a session token names ("" when anonymous); the edge checks the signature, this only
    // tells whose transcript the browser holds.
    try {
      var part = (token || "").split(".")[1];
      if (!part) return "";
      var payload = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
      return String(payload.cust || "");
    } catch (e) { return ""; }
  }

  function Chat(host) {
    var self = this;
    this.host = host;
    var script = document.querySelector("script[src*='widget.js']");
    var origin = script && script.src ? new URL(script.src, location.href) : location;
    this.url = (origin.protocol === "https:" ? "wss://" : "ws://") + origin.host + "/v1/chat";
    this.storefront = host.getAttribute("storefront") || "demo";
    this.lang = (host.getAttribute("lang") || navigator.language || "en").slice(0, 2).toLowerCase();
    this.t = {};
    var strings = I18N[this.lang] || I18N.en;
    KEYS.forEach(function (k, i) { self.t[k] = strings[i]; });
    if (!host.getAttribute("data-theme")) host.setAttribute("data-theme", host.getAttribute("theme") || "light");
    this.key = "triage:" + this.storefront;
    try { this.state = JSON.parse(localStorage.getItem(this.key)) || null; } catch (e) { this.state = null; }
    this.state = this.state || {session: null, seq: 0, log: [], outbox: []};
    // Another shopper on this browser (signed in as someone else, or signed out): the stored transcript,
    // session and unsent messages are not theirs to see or send.
    var who = customerOf(host.getAttribute("token"));
    if ((this.state.who || "") !== who) this.state = {session: null, seq: 0, log: [], outbox: [], who: who};
    this.backoff = 500;
    this.counter = Date.now();
    this.bubbles = {};
    this.render();
    this.connect();
    window.addEventListener("online", function () { self.connect(); });
    window.addEventListener("offline", function () { self.banner(true); });
  }

  Chat.prototype.render = function () {
    var t = this.t, self = this, root = this.host.attachShadow({mode: "open"});
    var style = document.createElement("style");
    style.textContent = CSS;
    var w = document.createElement("div");
    w.className = "w";
    w.setAttribute("dir", RTL[this.lang] ? "rtl" : "ltr");
    w.setAttribute("lang", this.lang);
    w.innerHTML = '<div class="p" role="dialog" hidden><div class="h"><span></span><button type="button" class="x">×</button></div>' +
      '<div class="b" role="alert" hidden></div><div class="m" role="log" aria-live="polite" aria-relevant="additions"></div>' +
      '<div class="n" aria-live="polite"></div><div class="q"></div><form class="f"><textarea rows="1"></textarea>' +
      '<button type="submit"></button></form></div><button type="button" class="l"><svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true">' +
      '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg></button>';
    root.appendChild(style);
    root.appendChild(w);
    this.el = {
      wrap: w, panel: w.querySelector(".p"), list: w.querySelector(".m"), note: w.querySelector(".n"),
      quick: w.querySelector(".q"), banner: w.querySelector(".b"), form: w.querySelector("form"),
      input: w.querySelector("textarea"), launcher: w.querySelector(".l"), close: w.querySelector(".x")
    };
    w.querySelector(".h span").textContent = t.title;
    this.el.panel.setAttribute("aria-label", t.title);
    this.el.input.setAttribute("placeholder", t.placeholder);
    this.el.input.setAttribute("aria-label", t.placeholder);
    this.el.form.querySelector("button").textContent = t.send;
    this.el.launcher.setAttribute("aria-label", t.open);
    this.el.close.setAttribute("aria-label", t.close);
    this.el.launcher.setAttribute("aria-expanded", "false");
    this.el.banner.textContent = t.offline;
    this.el.launcher.addEventListener("click", function () { self.toggle(); });
    this.el.close.addEventListener("click", function () { self.toggle(false); });
    this.el.form.addEventListener("submit", function (ev) { ev.preventDefault(); self.submit(); });
    this.el.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); self.submit(); }
      if (ev.key === "Escape") { self.toggle(false); }
    });
    this.state.log.forEach(function (m) { self.show(m); });
    if (this.host.hasAttribute("open")) this.toggle(true);
  };

  Chat.prototype.toggle = function (open) {
    var p = this.el.panel, show = open === undefined ? p.hidden : open;
    p.hidden = !show;
    this.el.launcher.setAttribute("aria-expanded", String(show));
    this.el.launcher.setAttribute("aria-label", show ? this.t.close : this.t.open);
    if (show) { this.el.input.focus(); this.scroll(); } else { this.el.launcher.focus(); }
  };

  Chat.prototype.save = function () {
    this.state.log = this.state.log.slice(-HISTORY);
    try { localStorage.setItem(this.key, JSON.stringify(this.state)); } catch (e) { /* private mode: history off */ }
  };

  Chat.prototype.scroll = function () { this.el.list.scrollTop = this.el.list.scrollHeight; };

  Chat.prototype.show = function (m) {
    var el = this.bubbles[m.key];
    if (!el) {
      el = document.createElement("div");
      el.className = "g " + (m.who === "user" ? "u" : m.who === "person" ? "s p" : "s");
      el.setAttribute("dir", "auto");  // an English answer in an Arabic widget keeps its own direction
      this.el.list.appendChild(el);
      if (m.key) this.bubbles[m.key] = el;
    }
    el.textContent = m.text;
    el.classList.toggle("pending", !!m.pending);
    if (m.tag) {
      var tag = document.createElement("span");
      tag.className = "t";
      tag.textContent = m.tag;
      el.appendChild(tag);
    }
    if (m.lang) el.setAttribute("lang", m.lang);
    this.scroll();
    return el;
  };

  Chat.prototype.note = function (text, ms) {
    var self = this, n = this.el.note;
    clearTimeout(this.noteTimer);
    n.textContent = "";
    if (text === this.t.typing) {
      n.innerHTML = '<span class="d" aria-label=""><span></span><span></span><span></span></span>';
      n.firstChild.setAttribute("aria-label", text);
    } else {
      n.textContent = text || "";
    }
    if (ms) this.noteTimer = setTimeout(function () { n.textContent = ""; }, ms);
  };

  Chat.prototype.banner = function (on) { this.el.banner.hidden = !on; };

  Chat.prototype.submit = function () {
    var text = this.el.input.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) { this.note(this.t.tooLong.replace("%n", MAX_CHARS), 6000); return; }
    this.el.input.value = "";
    this.el.quick.innerHTML = "";
    this.send(text);
  };

  Chat.prototype.send = function (text) {
    var id = "w" + (this.counter++).toString(36);
    var m = {who: "user", text: text, key: "u:" + id, pending: true};
    this.state.log.push(m);
    this.state.outbox.push({id: id, text: text});
    this.save();
    this.show(m);
    this.flush();
  };

  Chat.prototype.flush = function () {
    if (!this.ready) return;
    var self = this, waiting = this.waiting || {};
    this.state.outbox.forEach(function (o) { if (!waiting[o.id]) self.post(o); });
  };

  Chat.prototype.post = function (o) {
    this.ws.send(JSON.stringify({type: "message", id: o.id, text: o.text}));
  };

  Chat.prototype.connect = function () {
    var self = this;
    if (this.ws && this.ws.readyState <= 1) return;
    this.ready = false;
    var ws = this.ws = new WebSocket(this.url);
    ws.onopen = function () {
      ws.send(JSON.stringify({type: "hello", storefront: self.storefront, token: self.host.getAttribute("token") || "",
        session: self.state.session, resume_key: self.state.resumeKey || "", last_seq: self.state.seq,
        lang: self.lang}));
    };
    ws.onmessage = function (ev) { self.receive(JSON.parse(ev.data)); };
    ws.onclose = function () {
      self.ready = false;
      self.banner(true);
      setTimeout(function () { self.connect(); }, self.backoff);
      self.backoff = Math.min(self.backoff * 2, 10000);
    };
  };

  Chat.prototype.retry = function (id) {
    // One timer per message, and flush() leaves it alone meanwhile: the backoff holds.
    var self = this, tries = this.tries || (this.tries = {}), waiting = this.waiting || (this.waiting = {});
    if (waiting[id]) return;
    tries[id] = (tries[id] || 0) + 1;
    waiting[id] = setTimeout(function () {
      delete waiting[id];
      var o = self.state.outbox.filter(function (x) { return x.id === id; })[0];
      if (o && self.ready) self.post(o);
    }, Math.min(30000, 1000 * Math.pow(2, tries[id])) * (1 + Math.random() / 2));
  };

  Chat.prototype.acked = function (id) {
    this.state.outbox = this.state.outbox.filter(function (o) { return o.id !== id; });
    var mine = this.state.log.filter(function (m) { return m.key === "u:" + id; })[0];
    if (mine && mine.pending) { mine.pending = false; this.show(mine); }
  };

  Chat.prototype.receive = function (f) {
    var t = this.t;
    if (f.type === "welcome") {
      if (this.state.session && this.state.session !== f.session) this.state.seq = 0;
      this.state.session = f.session;
      this.state.resumeKey = f.resume_key || "";
      this.ready = true;
      this.backoff = 500;
      this.banner(false);
      this.save();
      if (!this.host.readyAt) this.host.readyAt = performance.now();
      this.host.setAttribute("data-ready", "");
      this.host.dispatchEvent(new CustomEvent("triage:ready", {bubbles: true}));
      this.flush();
    } else if (f.type === "typing") {
      this.acked(f.reply_to);
      if (Date.now() - (this.warnedAt || 0) > 6000) this.note(t.typing, TYPING_TIMEOUT_MS);
      var self = this;
      this.specialistTimer = setTimeout(function () { self.note(t.specialist); }, 1500);
    } else if (f.type === "delta") {
      var key = "a:" + f.reply_to, live = this.live || (this.live = {});
      live[key] = (live[key] || "") + f.text;
      clearTimeout(this.specialistTimer);
      this.note(t.typing, TYPING_TIMEOUT_MS);
      this.show({who: "assistant", key: key, text: live[key]});
    } else if (f.type === "answer") {
      if (f.seq <= this.state.seq) return;
      this.state.seq = f.seq;
      this.acked(f.reply_to);
      clearTimeout(this.specialistTimer);
      // A person's reply (or a follow-up on their case) is a message of its own, not the answer to reply_to.
      var queued = f.source === "queued", human = f.source === "human", later = human || !!f.case_id;
      var m = {who: human ? "person" : "assistant", key: later ? "h:" + f.seq : (queued ? "q:" : "a:") + f.reply_to,
        text: f.text, lang: f.lang, tag: human ? (f.author ? f.author + " · " : "") + t.team : queued ? t.queued : ""};
      if (this.live) delete this.live["a:" + f.reply_to];
      this.state.log.push(m);
      this.save();
      this.show(m);
      if (Date.now() - (this.warnedAt || 0) > 6000) this.note(queued ? t.specialist : "");  // keep a warning readable
      this.quick(f.decision === "clarify" || human ? f.options || [] : []);
    } else if (f.type === "error") {
      // Refused for speed, a message was not taken: it stays unsent and goes again later, not lost.
      if (f.code === "rate_limited" && f.reply_to) this.retry(f.reply_to);
      else if (f.reply_to) this.acked(f.reply_to);
      this.warnedAt = Date.now();
      this.note(f.code === "too_large" ? t.tooLong.replace("%n", MAX_CHARS) :
        f.code === "rate_limited" ? t.tooFast : t.error, 6000);
    }
  };

  Chat.prototype.quick = function (options) {
    var self = this, q = this.el.quick;
    q.innerHTML = "";
    options.forEach(function (o) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = o;
      b.addEventListener("click", function () { q.innerHTML = ""; self.send(o); });
      q.appendChild(b);
    });
  };

  if (!customElements.get("triage-chat")) {
    customElements.define("triage-chat", class extends HTMLElement {
      connectedCallback() { if (!this.chat) this.chat = new Chat(this); }
    });
  }
  var tag = document.currentScript;
  if (tag && tag.dataset.storefront && !document.querySelector("triage-chat")) {
    var el = document.createElement("triage-chat");
    ["storefront", "lang", "theme", "token"].forEach(function (k) { if (tag.dataset[k]) el.setAttribute(k, tag.dataset[k]); });
    if (tag.hasAttribute("data-open")) el.setAttribute("open", "");
    (document.body || document.documentElement).appendChild(el);
  }
})();
