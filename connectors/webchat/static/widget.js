// The office's web chat widget: no build step, no dependencies. Embed with
//   <div id="acolhe-chat"></div>
//   <script src="https://CHAT-HOST/webchat/widget.js" defer></script>
// (data-endpoint="https://CHAT-HOST" and data-target="element-id" on the script tag are
// optional). The page's origin must be in ACOLHE_WEBCHAT_ALLOWED_ORIGINS.
//
// What it keeps in localStorage: the visitor token and the messages not acknowledged yet
// (resent with the same client id after a reconnect, so the office records each once).
// Replies arrive live; after a reconnect it sends `resume` with the last number it shows and
// gets exactly what it missed; a page (re)load resumes from 0 and shows the whole session.
// Files: the attach button uploads each chosen file (POST /webchat/files, the bearer token),
// then sends a message naming the descriptors; a file in a message is a link that fetches it
// with the token (a plain link cannot carry the header) and saves it from a blob URL.
(() => {
  "use strict";
  const script = document.currentScript;
  const endpoint = (script && script.dataset.endpoint) || new URL(script.src).origin;
  const target = document.getElementById((script && script.dataset.target) || "acolhe-chat");
  if (!target) return;
  const storeKey = "acolhe.webchat:" + endpoint;
  const SUBPROTOCOL = "acolhe.webchat.v1";

  const saved = readSaved();
  let token = saved.token || null;
  let sessionId = saved.sessionId || null;
  let lastSeq = 0; // the highest message number this page shows
  let pending = saved.pending || []; // [{id, text, attachments}] not acknowledged yet
  let ws = null;
  let connected = false;
  let backoff = 1;
  let resendTimer = null;
  let typingTimer = null;
  let typingActive = false;
  let readTimer = null;
  let lastOfficeMessageId = null;

  if (!document.querySelector('link[data-acolhe-chat]')) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = endpoint + "/webchat/widget.css";
    css.dataset.acolheChat = "1";
    document.head.appendChild(css);
  }
  const root = el("section", "acolhe-chat");
  root.setAttribute("aria-label", "Chat");
  const log = el("ol", "acolhe-log");
  log.setAttribute("aria-live", "polite");
  const status = el("p", "acolhe-status");
  status.setAttribute("role", "status");
  const form = el("form", "acolhe-form");
  const input = el("textarea");
  input.rows = 2;
  input.setAttribute("aria-label", "Mensagem");
  input.placeholder = "Escreva sua mensagem";
  const button = el("button");
  button.type = "submit";
  button.textContent = "Enviar";
  const picker = el("input");
  picker.type = "file";
  picker.multiple = true;
  picker.accept = "image/jpeg,image/png,image/webp,image/heic,application/pdf";
  picker.hidden = true;
  const attach = el("button", "acolhe-attach");
  attach.type = "button";
  attach.textContent = "Anexar";
  attach.setAttribute("aria-label", "Anexar documento ou foto");
  attach.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    const files = Array.from(picker.files || []);
    picker.value = "";
    if (files.length) sendFiles(files);
  });
  form.append(attach, picker, input, button);
  root.append(log, status, form);
  target.appendChild(root);
  for (const p of pending) renderPending(p);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    sendMessage(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    if (!typingActive) setTyping(true);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => setTyping(false), 3000);
  });
  document.addEventListener("visibilitychange", scheduleRead);

  function el(tag, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    return node;
  }

  function readSaved() {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function save() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({ token, sessionId, pending }));
    } catch (e) {
      // private mode: the chat still works, it just cannot survive a reload
    }
  }

  function say(text) {
    status.textContent = text;
  }

  function newClientId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function getToken() {
    const body = token ? JSON.stringify({ token }) : "";
    const response = await fetch(endpoint + "/webchat/session", {
      method: "POST",
      headers: body ? { "Content-Type": "application/json" } : {},
      body,
    });
    if (response.status === 401 && token) {
      // not renewable (another site's, tampered, or too old): start a new conversation
      token = null;
      sessionId = null;
      lastSeq = 0;
      log.replaceChildren();
      save();
      return getToken();
    }
    if (!response.ok) {
      const retry = Number(response.headers.get("Retry-After") || "0");
      const error = new Error("session " + response.status);
      error.retryAfter = retry;
      throw error;
    }
    const answer = await response.json();
    if (sessionId && answer.session_id !== sessionId) {
      lastSeq = 0;
      log.replaceChildren();
    }
    token = answer.token;
    sessionId = answer.session_id;
    save();
  }

  async function connect() {
    say("Conectando…");
    try {
      if (!token) await getToken();
    } catch (e) {
      return retryLater(e.retryAfter);
    }
    const url = new URL(endpoint + "/webchat/ws");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(url, [SUBPROTOCOL, "acolhe.token." + token]);
    ws.onopen = () => {
      connected = true;
      backoff = 1;
      say("");
      ws.send(JSON.stringify({ type: "resume", last_seen_seq: lastSeq }));
      resendPending();
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      onFrame(frame);
    };
    ws.onclose = async (event) => {
      connected = false;
      ws = null;
      if (event.code === 4401) {
        // the token expired (or was refused): renew it, keeping the conversation if we may
        try {
          await getToken();
        } catch (e) {
          return retryLater(e.retryAfter);
        }
        return connect();
      }
      retryLater(0);
    };
  }

  function retryLater(seconds) {
    const wait = Math.max(seconds || 0, backoff);
    backoff = Math.min(backoff * 2, 30);
    say("Sem conexão. Tentando de novo em " + wait + " s…");
    setTimeout(connect, wait * 1000);
  }

  function onFrame(frame) {
    if (frame.type === "message") {
      show(frame);
    } else if (frame.type === "ack") {
      acknowledged(frame);
    } else if (frame.type === "typing") {
      say(frame.active ? "Atendente digitando…" : "");
    } else if (frame.type === "error") {
      onError(frame);
    }
  }

  function onError(frame) {
    if (frame.code === "rate_limited") {
      const wait = Math.ceil(frame.retry_after || 1);
      say("Muitas mensagens seguidas. Aguarde " + wait + " s.");
      clearTimeout(resendTimer);
      resendTimer = setTimeout(resendPending, wait * 1000);
    } else if (frame.code === "resume_gap") {
      lastSeq = 0; // the server has less than we think: take the whole conversation again
      log.replaceChildren();
      for (const p of pending) renderPending(p);
      save();
      if (ws) ws.send(JSON.stringify({ type: "resume", last_seen_seq: 0 }));
    } else {
      say(frame.reason || "Não foi possível enviar.");
      const field = frame.field || "";
      if (field === "text" || field.startsWith("attachments")) dropRefusedPending();
    }
  }

  function dropRefusedPending() {
    // a message the server refuses as it is (too long, invalid) would be refused forever
    const first = pending.shift();
    if (first) {
      const node = log.querySelector('[data-client-id="' + first.id + '"]');
      if (node) node.remove();
      save();
    }
  }

  function sendMessage(text, attachments) {
    const message = { id: newClientId(), text: text || null, attachments: attachments || [] };
    pending.push(message);
    save();
    renderPending(message);
    setTyping(false);
    if (connected) ws.send(frameOf(message));
  }

  function frameOf(message) {
    const frame = { type: "message", client_message_id: message.id };
    if (message.text) frame.text = message.text;
    if (message.attachments && message.attachments.length) frame.attachments = message.attachments;
    return JSON.stringify(frame);
  }

  async function sendFiles(files) {
    // each file uploaded first (nothing is sent to the office for an upload alone), then
    // one message names them all, with the text typed so far
    const described = [];
    for (const file of files.slice(0, 5)) {
      say("Enviando " + file.name + "…");
      try {
        if (!token) await getToken();
        const response = await fetch(
          endpoint + "/webchat/files?name=" + encodeURIComponent(file.name),
          {
            method: "POST",
            headers: {
              Authorization: "Bearer " + token,
              "Content-Type": file.type || "application/octet-stream",
            },
            body: file,
          },
        );
        const answer = await response.json();
        if (!response.ok) {
          say(file.name + ": " + ((answer.error && answer.error.reason) || response.status));
          continue;
        }
        described.push(answer);
      } catch (e) {
        say(file.name + ": não foi possível enviar. Tente de novo.");
      }
    }
    if (!described.length) return;
    say("");
    const text = input.value.trim() ? input.value : null;
    input.value = "";
    sendMessage(text, described);
  }

  function fillMessage(node, message) {
    node.textContent = message.text || "";
    for (const file of message.attachments || []) {
      const link = el("a", "acolhe-file");
      link.href = "#";
      link.textContent = file.file_name;
      if (file.attachment_id) link.dataset.attachmentId = file.attachment_id;
      if (file.size_bytes) link.title = Math.ceil(file.size_bytes / 1024) + " KB";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        saveFile(file);
      });
      node.append(node.childNodes.length ? document.createElement("br") : "", link);
    }
  }

  async function saveFile(file) {
    try {
      const response = await fetch(
        endpoint + "/webchat/files/" + encodeURIComponent(file.attachment_id),
        { headers: { Authorization: "Bearer " + token } },
      );
      if (!response.ok) {
        say("Arquivo indisponível.");
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      const link = el("a");
      link.href = url;
      link.download = file.file_name;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      say("Não foi possível baixar o arquivo.");
    }
  }

  function resendPending() {
    if (!connected) return;
    for (const message of pending) ws.send(frameOf(message));
  }

  function setTyping(active) {
    if (typingActive === active) return;
    typingActive = active;
    if (connected) ws.send(JSON.stringify({ type: "typing", active }));
  }

  function renderPending(message) {
    const node = el("li", "acolhe-msg acolhe-visitor acolhe-pending");
    node.dataset.clientId = message.id;
    fillMessage(node, message);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
  }

  function acknowledged(ack) {
    pending = pending.filter((p) => p.id !== ack.client_message_id);
    const node = log.querySelector('[data-client-id="' + ack.client_message_id + '"]');
    if (node) {
      node.classList.remove("acolhe-pending");
      node.dataset.seq = String(ack.seq);
      node.dataset.messageId = ack.message_id;
      placeBySeq(node, ack.seq);
    }
    lastSeq = Math.max(lastSeq, ack.seq);
    save();
  }

  function show(message) {
    if (log.querySelector('[data-seq="' + message.seq + '"]')) return;
    if (message.client_message_id) {
      const mine = log.querySelector('[data-client-id="' + message.client_message_id + '"]');
      if (mine) {
        acknowledged({
          client_message_id: message.client_message_id,
          message_id: message.message_id,
          seq: message.seq,
        });
        return;
      }
    }
    const node = el("li", "acolhe-msg acolhe-" + message.sender);
    node.dataset.seq = String(message.seq);
    node.dataset.messageId = message.message_id;
    if (message.client_message_id) node.dataset.clientId = message.client_message_id;
    fillMessage(node, message);
    placeBySeq(node, message.seq);
    lastSeq = Math.max(lastSeq, message.seq);
    save();
    if (message.sender !== "visitor") {
      lastOfficeMessageId = message.message_id;
      say("");
      scheduleRead();
    }
  }

  function placeBySeq(node, seq) {
    let before = null;
    for (const other of log.children) {
      const otherSeq = other.dataset.seq ? Number(other.dataset.seq) : Infinity;
      if (other !== node && otherSeq > seq) {
        before = other;
        break;
      }
    }
    log.insertBefore(node, before);
    log.scrollTop = log.scrollHeight;
  }

  function scheduleRead() {
    if (document.visibilityState !== "visible" || !lastOfficeMessageId) return;
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      if (connected && lastOfficeMessageId) {
        ws.send(JSON.stringify({ type: "read", up_to_message_id: lastOfficeMessageId }));
        lastOfficeMessageId = null;
      }
    }, 500);
  }

  window.acolheChat = {
    get connected() {
      return connected;
    },
    get sessionId() {
      return sessionId;
    },
    get lastSeq() {
      return lastSeq;
    },
    send: sendMessage,
    sendFiles,
  };
  connect();
})();
