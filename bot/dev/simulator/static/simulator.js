// 小哥红驿 · 模拟器 — the page's behaviour. No framework, no build step.
// The page never signs anything: every gesture goes to /simulator/api/send, which builds
// the callback WeChat would send, signs it and posts it to /wechat.
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("sim-config").textContent);
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  const PREFIX = "xiaoge-sim:";
  const MAX_IDS = 8;
  const MAX_LOG = 200;
  const MAX_SEEN = 500;
  const POLL_MS = 1500;
  const GAP_MS = 3 * 60 * 1000;

  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem(PREFIX + key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(PREFIX + key, JSON.stringify(value));
      } catch {
        /* private mode or full: the page still works, it just forgets */
      }
    },
    drop(key) {
      try {
        localStorage.removeItem(PREFIX + key);
      } catch {
        /* ignore */
      }
    },
  };

  const logEl = $("#log");
  const textEl = $("#text");
  const sendBtn = $("#send");
  const modeEl = $("#mode");
  const wireEl = $("#wire");
  const pushStateEl = $("#push-state");
  const scrim = $("#scrim");

  let openid = store.get("current", null);
  let history = [];
  let lastShownAt = 0;
  let busy = false;

  // --- small helpers --------------------------------------------------------------------

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function clock(ms) {  // times shown to users are Asia/Shanghai, like the pushes' times
    return new Date(ms).toLocaleTimeString("zh-CN", {
      timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false,
    });
  }

  function scrollDown(instant) {
    if (instant) logEl.style.scrollBehavior = "auto";
    logEl.scrollTop = logEl.scrollHeight;
    if (instant) logEl.style.scrollBehavior = "";
  }

  // --- rendering the chat ---------------------------------------------------------------

  function row(kind, avatarText) {
    const wrap = el("div", "msg " + kind);
    wrap.append(el("div", "avatar", avatarText));
    return wrap;
  }

  function renderPush(p) {
    const wrap = row("push bot", "红");
    wrap.dataset.push = p.id;
    const head = `推送 · ${p.channel_label}${p.time ? " · " + p.time : ""}`;
    if (p.type === "template") {
      const card = el("div", "bubble card");
      card.append(el("span", "push-head", head), el("h3", null, p.title));
      const dl = el("dl");
      for (const [label, value] of p.rows || []) {
        dl.append(el("dt", null, label), el("dd", null, value));
      }
      card.append(dl);
      const foot = el("footer", null, `模板 ${p.template_id || ""}`);
      if (p.url) {
        const a = el("a", null, " · 详情");
        a.href = p.url;
        a.target = "_blank";
        a.rel = "noopener";
        foot.append(a);
      }
      card.append(foot);
      wrap.append(card);
    } else {
      const bubble = el("div", "bubble");
      bubble.append(el("span", "push-head", head));
      if (p.title) bubble.append(el("b", null, p.title + "\n"));
      bubble.append(document.createTextNode(p.text || ""));
      if (p.url) {
        const a = el("a", null, "\n" + p.url);
        a.href = p.url;
        a.target = "_blank";
        a.rel = "noopener";
        bubble.append(a);
      }
      wrap.append(bubble);
    }
    return wrap;
  }

  function render(entry) {
    if (entry.t === "me") {
      const wrap = row("me", "我");
      const bubble = el("div", "bubble");
      if (entry.gesture) {
        const g = el("span", "gesture");
        g.append(el("b", null, entry.gesture));
        bubble.append(g);
        if (entry.detail) bubble.append(el("small", null, entry.detail));
      } else {
        bubble.textContent = entry.text;
      }
      wrap.append(bubble);
      return wrap;
    }
    if (entry.t === "bot") {
      const wrap = row("bot", "红");
      wrap.append(el("div", "bubble", entry.text));
      return wrap;
    }
    if (entry.t === "push") return renderPush(entry.p);
    if (entry.t === "wire") {
      const box = el("details", "wire");
      box.append(el("summary", null, entry.summary), el("pre", null, entry.body));
      return box;
    }
    return el("div", entry.t === "error" ? "note error" : "note", entry.text);
  }

  function show(entry) {
    const empty = $(".empty-log", logEl);
    if (empty) empty.remove();
    const at = entry.at || Date.now();
    if (entry.t !== "wire" && at - lastShownAt > GAP_MS) {
      logEl.append(el("div", "note time", clock(at)));
    }
    if (entry.t !== "wire") lastShownAt = at;
    logEl.append(render(entry));
    scrollDown();
  }

  function add(entry, persist = true) {
    entry.at = entry.at || Date.now();
    show(entry);
    if (persist && openid) {
      history.push(entry);
      if (history.length > MAX_LOG) history = history.slice(-MAX_LOG);
      store.set("log:" + openid, history);
    }
  }

  function renderHistory() {
    logEl.replaceChildren();
    lastShownAt = 0;
    history = openid ? store.get("log:" + openid, []) : [];
    if (!history.length) {
      const hint = openid
        ? "还没有消息。\n发送「帮助」看看机器人能做什么，\n或点底部菜单。"
        : "先在左上角选择或新建一个身份。";
      logEl.append(el("div", "empty-log", hint));
      return;
    }
    for (const entry of history) show(entry);
    scrollDown(true);
  }

  // --- talking to the server ------------------------------------------------------------

  function typing() {
    const wrap = row("bot typing", "红");
    wrap.append(el("div", "bubble", "···"));
    logEl.append(wrap);
    scrollDown();
    return wrap;
  }

  function wireText(step) {
    const query = new URLSearchParams(step.query || {}).toString();
    let out = `POST /wechat?${query}\n${step.body || ""}`;
    if (step.body !== step.request) out += `\n\n（明文）\n${step.request}`;
    if (step.status !== undefined) out += `\n\n← HTTP ${step.status}\n${step.response || ""}`;
    if (step.decrypted && step.reply) out += `\n\n（解密后的回复）\n${step.reply}`;
    return out;
  }

  async function send(payload, shown) {
    if (!openid) {
      openIdentity();
      return false;
    }
    if (busy) return false;
    busy = true;
    sendBtn.disabled = true;
    add(Object.assign({ t: "me" }, shown));
    const dots = typing();
    try {
      const resp = await fetch(cfg.send, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({}, payload, { openid, mode: modeEl.value })),
      });
      let data;
      try {
        data = await resp.json();
      } catch {
        data = { error: `HTTP ${resp.status}` };
      }
      dots.remove();
      for (const step of data.steps || []) {
        if (wireEl.checked) {
          add({ t: "wire", summary: `报文 · ${step.label} · HTTP ${step.status ?? "—"}`,
                body: wireText(step) }, false);
        }
        if (step.reply) add({ t: "bot", text: step.reply });
        else if (!step.error) add({ t: "note", text: `${step.label}：机器人未回复（success）` });
      }
      if (!resp.ok) add({ t: "error", text: data.error || `HTTP ${resp.status}` });
      return resp.ok;
    } catch (err) {
      dots.remove();
      add({ t: "error", text: `请求失败：${err.message || err}` });
      return false;
    } finally {
      busy = false;
      sendBtn.disabled = false;
      setTimeout(poll, 300);
    }
  }

  // --- pushes from the sandbox ----------------------------------------------------------

  let polling = false;

  function pushState(text, bad) {
    pushStateEl.textContent = text;
    pushStateEl.classList.toggle("bad", Boolean(bad));
  }

  async function poll() {
    if (!openid || polling || !cfg.sandbox) return;
    polling = true;
    const who = openid;
    try {
      const resp = await fetch(`${cfg.pushes}?openid=${encodeURIComponent(who)}`,
                               { cache: "no-store" });
      const data = await resp.json();
      if (who !== openid) return;
      if (!resp.ok) {
        pushState(`推送：${data.error || resp.status}`, true);
        return;
      }
      const seen = new Set(store.get("seen:" + who, []));
      let fresh = false;
      for (const p of data.pushes) {
        if (seen.has(p.id)) continue;
        seen.add(p.id);
        add({ t: "push", p });
        fresh = true;
      }
      if (fresh) store.set("seen:" + who, Array.from(seen).slice(-MAX_SEEN));
      pushState(`推送：已连接沙箱 · 收到 ${data.pushes.length} 条`);
    } catch {
      pushState("推送：连不上服务器", true);
    } finally {
      polling = false;
    }
  }

  if (!cfg.sandbox) pushState("推送：未接沙箱", true);
  setInterval(() => {
    if (!document.hidden) poll();
  }, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });

  // --- sheets ---------------------------------------------------------------------------

  function openSheet(id) {
    closeSheets();
    closeMenus();
    scrim.hidden = false;
    const sheet = $("#" + id);
    sheet.hidden = false;
    const first = $("input:not([type=checkbox]), button.pick, button.use", sheet);
    if (first && window.matchMedia("(pointer: fine)").matches) first.focus();
  }

  function closeSheets() {
    scrim.hidden = true;
    for (const s of $$(".sheet")) s.hidden = true;
  }

  scrim.addEventListener("click", closeSheets);
  for (const b of $$(".sheet .close")) b.addEventListener("click", closeSheets);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      closeSheets();
      closeMenus();
    }
  });

  // --- identities -----------------------------------------------------------------------

  function randomId() {
    const bytes = new Uint8Array(4);
    crypto.getRandomValues(bytes);
    return "sim-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function renderIds() {
    const list = $("#ids");
    list.replaceChildren();
    const ids = store.get("ids", []);
    if (!ids.length) list.append(el("li", "empty", "还没有用过的身份。"));
    for (const id of ids) {
      const li = el("li");
      const use = el("button", "use" + (id === openid ? " current" : ""), id);
      use.type = "button";
      use.addEventListener("click", () => useIdentity(id));
      const forget = el("button", "forget", "✕");
      forget.type = "button";
      forget.title = "从列表中移除";
      forget.setAttribute("aria-label", `移除 ${id}`);
      forget.addEventListener("click", () => {
        store.set("ids", store.get("ids", []).filter((x) => x !== id));
        renderIds();
      });
      li.append(use, forget);
      list.append(li);
    }
  }

  function openIdentity() {
    renderIds();
    $("#openid").value = openid ? "" : randomId();
    openSheet("sheet-identity");
  }

  function useIdentity(id) {
    openid = id;
    const ids = [id].concat(store.get("ids", []).filter((x) => x !== id)).slice(0, MAX_IDS);
    store.set("ids", ids);
    store.set("current", id);
    $("#who-name").textContent = id;
    closeSheets();
    renderHistory();
    pushState("推送：查询中…");
    poll();
    textEl.focus();
  }

  $("#who").addEventListener("click", openIdentity);
  $("#random-id").addEventListener("click", () => useIdentity(randomId()));
  $("#identity-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("#openid").value.trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) useIdentity(id);
  });

  // --- settings -------------------------------------------------------------------------

  modeEl.value = store.get("mode", "plain");
  wireEl.checked = store.get("wire", false);
  modeEl.addEventListener("change", () => store.set("mode", modeEl.value));
  wireEl.addEventListener("change", () => store.set("wire", wireEl.checked));
  $("#gear").addEventListener("click", () => {
    const panel = $("#settings");
    panel.hidden = !panel.hidden;
    $("#gear").setAttribute("aria-expanded", String(!panel.hidden));
  });
  $("#clear").addEventListener("click", () => {
    if (!openid) return;
    store.drop("log:" + openid);
    renderHistory();
  });

  // --- typing ---------------------------------------------------------------------------

  $("#composer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = textEl.value;
    if (!text.trim() || busy) return;
    if (!openid) {
      openIdentity();
      return;
    }
    textEl.value = "";
    await send({ kind: "text", content: text }, { text });
    textEl.focus();
  });

  // --- the ＋ panel ----------------------------------------------------------------------

  const actions = $("#actions");
  $("#more").addEventListener("click", () => {
    actions.hidden = !actions.hidden;
    $("#more").setAttribute("aria-expanded", String(!actions.hidden));
    if (!actions.hidden) scrollDown();
  });

  const ACTIONS = {
    location: () => openLocation({ kind: "location" }),
    scan: () => openScan({ kind: "scan" }),
    image: () => send({ kind: "image" }, { gesture: "🖼 图片", detail: "一张模拟的照片" }),
    voice: () => {
      // The words in the box are the Recognition; an empty box sends a voice without one.
      const words = textEl.value.trim();
      textEl.value = "";
      send(words ? { kind: "voice", content: words } : { kind: "voice" },
           { gesture: "🎤 语音", detail: words ? `识别结果：${words}` : "无识别结果" });
    },
    subscribe: () => send({ kind: "subscribe" }, { gesture: "➕ 关注公众号" }),
    unsubscribe: () => send({ kind: "unsubscribe" }, { gesture: "➖ 取消关注" }),
  };
  for (const b of $$("[data-action]", actions)) {
    b.addEventListener("click", () => ACTIONS[b.dataset.action]());
  }

  // --- location -------------------------------------------------------------------------

  let locationCtx = { kind: "location" };

  function openLocation(ctx) {
    locationCtx = ctx;
    $("#location-title").textContent = ctx.key ? `菜单「${ctx.name}」：选择位置` : "发送位置";
    $("#coords-error").hidden = true;
    openSheet("sheet-location");
  }

  function sendLocation(lat, lng, label) {
    closeSheets();
    const ctx = locationCtx;
    const payload = { kind: ctx.kind, lat, lng, label };
    if (ctx.key) payload.key = ctx.key;
    const via = ctx.key ? ` · 菜单「${ctx.name}」` : "";
    send(payload, { gesture: `📍 ${label || "位置"}`, detail: `${lat}, ${lng}${via}` });
  }

  for (const b of $$("#station-list .station")) {
    b.addEventListener("click", () => {
      sendLocation(Number(b.dataset.lat), Number(b.dataset.lng), b.dataset.name);
    });
  }

  $("#coords-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const parts = $("#coords").value.replace(/，/g, ",").split(/[,\s]+/).filter(Boolean);
    const [lat, lng] = parts.map(Number);
    const err = $("#coords-error");
    if (parts.length !== 2 || !Number.isFinite(lat) || !Number.isFinite(lng)
        || Math.abs(lat) > 90 || Math.abs(lng) > 180) {
      err.textContent = "请按「纬度,经度」填写，如 31.7093,119.9512";
      err.hidden = false;
      return;
    }
    sendLocation(lat, lng, $("#coords-label").value.trim());
  });

  function filterList(input, list) {
    input.addEventListener("input", () => {
      const q = input.value.trim().toLowerCase();
      for (const li of $$("li", list)) {
        const b = $("button", li);
        if (!b) continue;
        li.hidden = Boolean(q) && !b.dataset.search.toLowerCase().includes(q);
      }
    });
  }
  filterList($("#station-filter"), $("#station-list"));
  filterList($("#scan-filter"), $("#scan-stations"));

  // --- scanning -------------------------------------------------------------------------

  let scanCtx = { kind: "scan" };

  function openScan(ctx) {
    scanCtx = ctx;
    $("#scan-title").textContent = ctx.key ? `菜单「${ctx.name}」：扫码` : "扫一扫";
    $("#scan-new-wrap").hidden = Boolean(ctx.key);
    $("#scan-new").checked = false;
    openSheet("sheet-scan");
  }

  function scan(scene) {
    closeSheets();
    const ctx = scanCtx;
    if (ctx.key) {
      send({ kind: ctx.kind, key: ctx.key, scene },
           { gesture: `🔍 扫码 ${scene}`, detail: `菜单「${ctx.name}」` });
    } else if ($("#scan-new").checked) {
      send({ kind: "subscribe", scene }, { gesture: `🔍 扫码 ${scene}`, detail: "扫码关注" });
    } else {
      send({ kind: "scan", scene }, { gesture: `🔍 扫码 ${scene}` });
    }
  }

  for (const b of $$("#scan-stations .scene")) {
    b.addEventListener("click", () => scan(b.dataset.scene));
  }
  for (const form of $$(".scene-form")) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("input", form);
      const value = input.value.trim();
      if (!value) return;
      input.value = "";
      scan(form.dataset.prefix + value);
    });
  }
  for (const tab of $$(".tabs [data-tab]")) {
    tab.addEventListener("click", () => {
      for (const t of $$(".tabs [data-tab]")) {
        t.setAttribute("aria-selected", String(t === tab));
      }
      for (const panel of $$("#sheet-scan .tab")) {
        panel.hidden = panel.dataset.panel !== tab.dataset.tab;
      }
    });
  }

  // --- the custom menu ------------------------------------------------------------------

  function closeMenus(except) {
    for (const col of $$(".menu-col")) {
      const pop = $(".menu-pop", col);
      if (!pop || pop === except) continue;
      pop.hidden = true;
      $(".menu-top", col).setAttribute("aria-expanded", "false");
    }
  }

  for (const col of $$(".menu-col")) {
    const pop = $(".menu-pop", col);
    if (!pop) continue;
    const top = $(".menu-top", col);
    top.addEventListener("click", (ev) => {
      ev.stopPropagation();
      closeMenus(pop);
      pop.hidden = !pop.hidden;
      top.setAttribute("aria-expanded", String(!pop.hidden));
    });
  }
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest(".menu")) closeMenus();
  });

  function tapMenu(b) {
    closeMenus();
    const { type, key, url, name } = b.dataset;
    if (type === "click") {
      send({ kind: "click", key }, { gesture: `☰ ${name}`, detail: `菜单点击 · key「${key}」` });
    } else if (type === "view") {
      send({ kind: "view", key: url }, { gesture: `☰ ${name}`, detail: `打开网页 ${url}` });
    } else if (type === "location_select") {
      openLocation({ kind: "location_select", key, name });
    } else if (type === "scancode_waitmsg" || type === "scancode_push") {
      openScan({ kind: type, key, name });
    } else if (type && type.startsWith("pic_")) {
      send({ kind: "pic", event: type, key }, { gesture: `☰ ${name}`, detail: "发送一张模拟的照片" });
    } else {
      add({ t: "note", text: `模拟器不支持「${type || "?"}」类型的菜单按钮` }, false);
    }
  }

  for (const b of $$(".menu-item")) {
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      tapMenu(b);
    });
  }

  // --- start ----------------------------------------------------------------------------

  if (openid) {
    $("#who-name").textContent = openid;
    renderHistory();
    poll();
  } else {
    renderHistory();
    openIdentity();
  }
})();
