// Browser side of the Socket.IO chat example.
//
// Plain DOM code, no framework. All user-supplied strings are inserted with
// textContent (never innerHTML), so nicknames, room names and messages are
// always rendered as text.
(function () {
  "use strict";

  // Largest image the server accepts, in bytes.
  const MAX_IMAGE_BYTES = 900000;
  // How long a remote "is typing" mark lives without a fresh typing event.
  const TYPING_DISPLAY_MS = 2000;
  // While we keep typing, re-announce it this often so peers don't time out.
  const TYPING_REFRESH_MS = 1000;
  // After this long without a keystroke we tell peers we stopped typing.
  const TYPING_IDLE_MS = 1500;
  // How long to wait for an acknowledgement from the server.
  const ACK_TIMEOUT_MS = 5000;

  const $ = (selector) => document.querySelector(selector);
  const ui = {
    status: $("#status"),
    me: $("#me"),
    currentRoom: $("#current-room"),
    nicknameForm: $("#nickname-form"),
    nickname: $("#nickname"),
    roomForm: $("#room-form"),
    room: $("#room"),
    roomSuggestions: $("#room-suggestions"),
    rooms: $("#rooms"),
    members: $("#members"),
    messages: $("#messages"),
    typing: $("#typing"),
    composer: $("#composer"),
    message: $("#message"),
    imageInput: $("#image-input"),
  };

  // What the server currently says about us.
  const state = {
    nickname: null,
    room: null,
    // What the user explicitly chose; restored after a reconnect, since the
    // server hands out a fresh guest name and the default room on every connect.
    chosenNickname: null,
    chosenRoom: null,
  };

  // ---------------------------------------------------------------------------
  // Small DOM helpers
  // ---------------------------------------------------------------------------

  /** Create an element with an optional class name and text content. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** Format a millisecond timestamp as a short local time, e.g. "14:05". */
  function formatTime(ms) {
    const date = new Date(typeof ms === "number" && Number.isFinite(ms) ? ms : Date.now());
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  /** Build the "who / when" header shared by text and image messages. */
  function messageMeta(from, at) {
    const meta = el("div", "meta");
    meta.append(el("span", "from", from));
    const time = el("time", "at", formatTime(at));
    time.dateTime = new Date(typeof at === "number" ? at : Date.now()).toISOString();
    meta.append(time);
    return meta;
  }

  /** Append a message row and keep the list scrolled to the bottom if it was. */
  function appendMessage(li) {
    const list = ui.messages;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(li);
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  function isOwn(from) {
    return state.nickname !== null && from === state.nickname;
  }

  // ---------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------

  function showNotice(text, kind) {
    const li = el("li", "notice" + (kind ? " " + kind : ""), text);
    appendMessage(li);
  }

  function showChat(from, text, at) {
    const li = el("li", "chat" + (isOwn(from) ? " own" : ""));
    li.append(messageMeta(from, at), el("div", "text", text));
    appendMessage(li);
  }

  /**
   * Show an image. `source` is a Blob (or File); a temporary object URL is
   * created for the <img> and released as soon as the image has been decoded.
   */
  function showImage(from, name, source) {
    const li = el("li", "image" + (isOwn(from) ? " own" : ""));
    const figure = el("figure");
    const img = el("img", "chat-image");
    const url = URL.createObjectURL(source);
    img.alt = name || "image";
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    img.addEventListener("error", () => {
      URL.revokeObjectURL(url);
      li.classList.add("broken");
    }, { once: true });
    img.src = url;
    figure.append(img);
    if (name) figure.append(el("figcaption", null, name));
    li.append(messageMeta(from, Date.now()), figure);
    appendMessage(li);
  }

  function renderMembers(members) {
    ui.members.replaceChildren();
    for (const name of Array.isArray(members) ? members : []) {
      const li = el("li", isOwn(name) ? "me" : null, name);
      li.dataset.nickname = name;
      if (isOwn(name)) li.append(el("span", "you-tag", "you"));
      ui.members.append(li);
    }
  }

  function renderIdentity() {
    ui.me.textContent = state.nickname || "…";
    ui.currentRoom.textContent = state.room ? "#" + state.room : "…";
    document.title = state.room ? `#${state.room} · Socket.IO chat` : "Socket.IO chat";
    // Re-mark ourselves in the member list after a rename.
    for (const li of ui.members.children) {
      const own = isOwn(li.dataset.nickname);
      li.classList.toggle("me", own);
      const tag = li.querySelector(".you-tag");
      if (own && !tag) li.append(el("span", "you-tag", "you"));
      if (!own && tag) tag.remove();
    }
  }

  function renderRooms(rooms) {
    ui.roomSuggestions.replaceChildren();
    ui.rooms.replaceChildren();
    for (const room of Array.isArray(rooms) ? rooms : []) {
      const option = el("option");
      option.value = room;
      ui.roomSuggestions.append(option);

      const li = el("li");
      const button = el("button", "chip", "#" + room);
      button.type = "button";
      button.addEventListener("click", () => joinRoom(room));
      li.append(button);
      ui.rooms.append(li);
    }
  }

  function setStatus(stateName) {
    ui.status.textContent = stateName;
    ui.status.dataset.state = stateName;
  }

  // ---------------------------------------------------------------------------
  // Typing indicator (remote users)
  // ---------------------------------------------------------------------------

  // nickname -> timer that removes the mark if no further event arrives
  const typers = new Map();

  function renderTyping() {
    const names = [...typers.keys()];
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "Several people are typing…";
    ui.typing.textContent = text;
  }

  function setTyping(from, typing) {
    clearTimeout(typers.get(from));
    typers.delete(from);
    if (typing) {
      typers.set(from, setTimeout(() => {
        typers.delete(from);
        renderTyping();
      }, TYPING_DISPLAY_MS));
    }
    renderTyping();
  }

  function clearTyping() {
    for (const timer of typers.values()) clearTimeout(timer);
    typers.clear();
    renderTyping();
  }

  // ---------------------------------------------------------------------------
  // Typing announcements (this user)
  // ---------------------------------------------------------------------------

  let typingSentAt = 0; // 0 = peers think we are not typing
  let typingIdleTimer = null;

  function noteKeystroke() {
    const now = Date.now();
    if (now - typingSentAt >= TYPING_REFRESH_MS) {
      typingSentAt = now;
      socket.emit("typing", true);
    }
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingIdleTimer);
    typingIdleTimer = null;
    if (typingSentAt !== 0) {
      typingSentAt = 0;
      socket.emit("typing", false);
    }
  }

  // ---------------------------------------------------------------------------
  // Socket.IO connection
  // ---------------------------------------------------------------------------

  // Without the Socket.IO client (offline, and the local npm package is not installed),
  // say so instead of "connecting" forever.
  if (typeof io === "undefined") {
    setStatus("no client");
    showNotice(
      "The Socket.IO browser client could not be loaded (" +
        document.documentElement.dataset.clientSrc +
        "). Install it with `npm ci --prefix programs/interop`, or check the network.",
      "warn",
    );
    return;
  }

  const socket = io();

  socket.on("connect", () => setStatus("connected"));

  socket.on("disconnect", (reason) => {
    clearTyping();
    typingSentAt = 0;
    // socket.active is false when the disconnection was deliberate (by us or
    // the server); otherwise the client retries on its own.
    setStatus(socket.active ? "reconnecting" : "disconnected");
    showNotice(`Disconnected (${reason}).`, "warn");
  });

  socket.on("connect_error", () => {
    setStatus(socket.active ? "reconnecting" : "disconnected");
  });

  // The Manager gives up after its reconnection attempts are exhausted.
  socket.io.on("reconnect_failed", () => setStatus("disconnected"));

  socket.on("welcome", (info) => {
    const firstWelcome = state.nickname === null;
    state.nickname = info && info.nickname ? String(info.nickname) : null;
    state.room = info && info.room ? String(info.room) : null;
    renderRooms(info && info.rooms);
    renderIdentity();
    if (!ui.nickname.value || !state.chosenNickname) ui.nickname.value = state.nickname || "";
    if (!ui.room.value) ui.room.value = state.room || "";
    showNotice(`${firstWelcome ? "Welcome" : "Welcome back"}, ${state.nickname}! You are in #${state.room}.`);

    // After a reconnect, put the user back where they were.
    if (state.chosenNickname && state.chosenNickname !== state.nickname) {
      setNickname(state.chosenNickname);
    }
    if (state.chosenRoom && state.chosenRoom !== state.room) {
      joinRoom(state.chosenRoom);
    }
  });

  socket.on("members", (members) => renderMembers(members));

  socket.on("notice", (text) => showNotice(String(text)));

  socket.on("chat", (msg) => {
    if (!msg) return;
    setTyping(String(msg.from), false);
    showChat(String(msg.from), String(msg.text), msg.at);
  });

  socket.on("typing", (event) => {
    if (!event || isOwn(event.from)) return;
    setTyping(String(event.from), Boolean(event.typing));
  });

  socket.on("image", (msg) => {
    if (!msg || !msg.data) return;
    const type = typeof msg.type === "string" && msg.type.startsWith("image/")
      ? msg.type
      : "application/octet-stream";
    // Binary attachments arrive as ArrayBuffer in the browser; accept views
    // and Blobs too, they are all valid Blob parts.
    const blob = new Blob([msg.data], { type });
    showImage(String(msg.from), msg.name ? String(msg.name) : "", blob);
  });

  // ---------------------------------------------------------------------------
  // User actions
  // ---------------------------------------------------------------------------

  function setNickname(name) {
    socket.timeout(ACK_TIMEOUT_MS).emit("set-nickname", name, (err, res) => {
      if (err) return showNotice("The server did not answer the nickname request.", "error");
      if (!res || !res.ok) {
        return showNotice(`Could not set nickname: ${(res && res.error) || "unknown error"}`, "error");
      }
      const previous = state.nickname;
      state.nickname = String(res.nickname);
      state.chosenNickname = state.nickname;
      ui.nickname.value = state.nickname;
      renderIdentity();
      if (previous !== state.nickname) showNotice(`You are now known as ${state.nickname}.`);
    });
  }

  function joinRoom(room) {
    socket.timeout(ACK_TIMEOUT_MS).emit("join-room", room, (err, res) => {
      if (err) return showNotice("The server did not answer the join request.", "error");
      if (!res || !res.ok) {
        return showNotice(`Could not join #${room}: ${(res && res.error) || "unknown error"}`, "error");
      }
      stopTyping();
      clearTyping();
      state.room = String(res.room);
      state.chosenRoom = state.room;
      ui.room.value = state.room;
      renderMembers(res.members);
      renderIdentity();
      showNotice(`You joined #${state.room}.`);
    });
  }

  ui.nicknameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = ui.nickname.value.trim();
    if (name) setNickname(name);
  });

  ui.roomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = ui.room.value.trim();
    if (room) joinRoom(room);
  });

  // The composer is a <form>, so Enter in the message field submits it too.
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.message.value;
    if (!text.trim()) return;
    stopTyping();
    socket.emit("chat", text);
    // The server does not echo our own messages back, so show it right away.
    showChat(state.nickname || "me", text, Date.now());
    ui.message.value = "";
    ui.message.focus();
  });

  ui.message.addEventListener("input", () => {
    if (ui.message.value) noteKeystroke();
    else stopTyping();
  });

  ui.imageInput.addEventListener("change", async () => {
    const file = ui.imageInput.files && ui.imageInput.files[0];
    // Reset so picking the same file again fires "change" again.
    ui.imageInput.value = "";
    if (!file) return;
    if (!file.type.startsWith("image/")) {
      return showNotice(`${file.name} is not an image.`, "error");
    }
    if (file.size > MAX_IMAGE_BYTES) {
      return showNotice(`${file.name} is too large (${file.size} bytes, max ${MAX_IMAGE_BYTES}).`, "error");
    }
    const data = await file.arrayBuffer();
    // An ArrayBuffer is sent as a binary attachment, not as JSON.
    socket.emit("image", { name: file.name, type: file.type, data });
    showImage(state.nickname || "me", file.name, file);
  });
})();
