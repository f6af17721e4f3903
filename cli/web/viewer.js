// arsock viewer: draws the hub's rooms from above, live, from the /events stream.
// Plain JS, no dependencies. The model is documented in cli/src/view.rs.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// Each map's viewBox is its size on screen in CSS pixels, so marks and text keep their size.
const MIN_SPAN = 6;              // metres shown at least across
const TRAIL = 45;                // positions kept per peer for its trail
const rooms = new Map();         // name -> room card state
let updates = 0, lastRate = 0;
const stamps = [];               // hub times (ms) of the snapshots received in the last second

const $ = (id) => document.getElementById(id);
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function h(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
const PALETTE = ["#58a6ff", "#f778ba", "#3fb950", "#e3b341", "#bc8cff", "#ff7b72", "#39c5cf", "#ffa657",
                 "#a5d6ff", "#7ee787", "#d2a8ff", "#f2cc60"];
const color = (id) => PALETTE[(id + PALETTE.length - 1) % PALETTE.length];
const fmt = (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
function bytes(v) {
  if (!v) return "0 B/s";
  const u = ["B/s", "kB/s", "MB/s", "GB/s"];
  let i = 0;
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${u[i]}`;
}
function num(v) { return v >= 1000 ? `${(v / 1000).toFixed(1)}k` : `${Math.round(v)}`; }

// ---- room cards -----------------------------------------------------------------------
function makeRoom(name) {
  const card = h("div", "room", null);
  card.dataset.room = name;
  const title = h("h2", "", card);
  h("span", "", title, name);
  const count = h("span", "count", title);
  const svg = el("svg", { viewBox: "0 0 640 480", role: "img", "aria-label": `room ${name} from above` }, card);
  const grid = el("g", { class: "grid" }, svg);
  const trails = el("g", { class: "trails" }, svg);
  const anchors = el("g", { class: "anchors" }, svg);
  const peers = el("g", { class: "peers" }, svg);
  const scale = el("g", { class: "scale" }, svg);
  const table = h("div", "ptable", null);
  table.dataset.room = name;
  h("h3", "", table, `Room “${name}”`);
  const t = h("table", "", table);
  const head = h("tr", "", h("thead", "", t));
  for (const [c, n] of [["peer", ""], ["RTT ms", "num"], ["pose age ms", "num"], ["state", ""]]) h("th", n, head, c);
  const tbody = h("tbody", "", t);
  const r = { name, card, count, svg, grid, trails, anchors, peers, scale, table, tbody,
              view: null, gridKey: "", W: 640, H: 480, peerEls: new Map(), anchorEls: new Map(), rows: new Map() };
  return r;
}

// Bounds of what is in the room, padded, at least MIN_SPAN across, 4:3, eased over time.
function targetView(r, room) {
  const W = r.W, H = r.H;
  let x0 = Infinity, x1 = -Infinity, z0 = Infinity, z1 = -Infinity;
  const add = (x, z) => { x0 = Math.min(x0, x); x1 = Math.max(x1, x); z0 = Math.min(z0, z); z1 = Math.max(z1, z); };
  for (const p of room.peers) if (p.has_pose) add(p.x, p.z);
  for (const a of room.anchors) add(a.x, a.z);
  if (x0 === Infinity) { x0 = z0 = -1; x1 = z1 = 1; }
  const cx = (x0 + x1) / 2, cz = (z0 + z1) / 2;
  let sx = Math.max(x1 - x0 + 2, MIN_SPAN), sz = Math.max(z1 - z0 + 2, MIN_SPAN * H / W);
  if (sx / sz < W / H) sx = sz * W / H; else sz = sx * H / W;
  return { cx, cz, sx };
}
function ease(r, t) {
  if (!r.view) { r.view = t; return; }
  const k = 0.08, v = r.view;
  // Grow at once (nothing leaves the map), shrink slowly.
  v.sx = t.sx > v.sx ? t.sx : v.sx + (t.sx - v.sx) * k * 0.3;
  v.cx += (t.cx - v.cx) * k; v.cz += (t.cz - v.cz) * k;
}
function toScreen(r, x, z) {
  const v = r.view, s = r.W / v.sx;
  return [r.W / 2 + (x - v.cx) * s, r.H / 2 + (z - v.cz) * s];
}
function drawGrid(r) {
  const v = r.view, W = r.W, H = r.H, s = W / v.sx;
  const key = `${v.cx.toFixed(2)},${v.cz.toFixed(2)},${v.sx.toFixed(2)},${W},${H}`;
  if (key === r.gridKey) return;
  r.gridKey = key;
  r.grid.textContent = "";
  const sz = v.sx * H / W;
  for (let x = Math.ceil(v.cx - v.sx / 2); x <= v.cx + v.sx / 2; x++) {
    const [px] = toScreen(r, x, 0);
    el("line", { x1: px, y1: 0, x2: px, y2: H, class: x === 0 ? "axis" : "" }, r.grid);
  }
  for (let z = Math.ceil(v.cz - sz / 2); z <= v.cz + sz / 2; z++) {
    const [, py] = toScreen(r, 0, z);
    el("line", { x1: 0, y1: py, x2: W, y2: py, class: z === 0 ? "axis" : "" }, r.grid);
  }
  r.scale.textContent = "";
  el("line", { x1: 12, y1: H - 12, x2: 12 + s, y2: H - 12 }, r.scale);
  el("text", { x: 16 + s, y: H - 8 }, r.scale).textContent = "1 m";
}

function makePeer(r, p) {
  const g = el("g", { class: "peer" }, r.peers);
  g.dataset.peer = p.id;
  g.dataset.room = r.name;
  const c = color(p.id);
  const rot = el("g", {}, g);
  el("path", { class: "cone", d: "M0 0 L-17 -34 A38 38 0 0 1 17 -34 Z", fill: c }, rot);
  el("path", { class: "nose", d: "M-5 -6 L0 -17 L5 -6 Z", fill: c }, rot);
  el("circle", { class: "body", r: 8, fill: c }, g);
  const label = el("text", { x: 12, y: 16 }, g);
  const trail = el("polyline", { class: "trail", stroke: c }, r.trails);
  return { g, rot, label, trail, pts: [] };
}

function makeRow(r, p) {
  const tr = h("tr", "", r.tbody);
  tr.dataset.peer = p.id;
  const name = h("td", "", tr);
  const sw = h("span", "sw", name);
  sw.style.background = color(p.id);
  const nm = h("span", "", name);
  const pid = h("span", "pid", name);
  const rtt = h("td", "num", tr), age = h("td", "num", tr);
  const st = h("span", "badge", h("td", "", tr));
  return { tr, nm, pid, rtt, age, st };
}

function syncMap(map, ids, remove) {
  for (const [k, v] of map) if (!ids.has(k)) { remove(v); map.delete(k); }
}

function drawRoom(r, room) {
  const w = Math.round(r.svg.clientWidth), h = Math.round(r.svg.clientHeight);
  if (w > 50 && h > 50 && (w !== r.W || h !== r.H)) {
    r.W = w; r.H = h; r.view = null;
    r.svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  }
  ease(r, targetView(r, room));
  drawGrid(r);
  const live = room.peers.filter((p) => p.state !== "left").length;
  r.count.textContent = `${live} peer${live === 1 ? "" : "s"} · ${room.anchors.length} anchor${room.anchors.length === 1 ? "" : "s"}`;

  const ids = new Set();
  for (const p of room.peers) {
    ids.add(p.id);
    let m = r.peerEls.get(p.id);
    if (!m) { m = makePeer(r, p); r.peerEls.set(p.id, m); }
    const [sx, sy] = toScreen(r, p.x, p.z);
    m.g.setAttribute("class", `peer ${p.state}`);
    m.g.style.display = p.has_pose ? "" : "none";
    m.g.setAttribute("transform", `translate(${sx.toFixed(1)} ${sy.toFixed(1)})`);
    m.rot.setAttribute("transform", `rotate(${(-p.yaw * 180 / Math.PI).toFixed(1)})`);
    m.g.dataset.x = p.x; m.g.dataset.z = p.z; m.g.dataset.yaw = p.yaw; m.g.dataset.state = p.state;
    if (m.label.textContent !== (p.name || `#${p.id}`)) m.label.textContent = p.name || `#${p.id}`;
    if (p.has_pose && p.state !== "left") {
      const last = m.pts[m.pts.length - 1];
      if (!last || last[0] !== p.x || last[1] !== p.z) { m.pts.push([p.x, p.z]); if (m.pts.length > TRAIL) m.pts.shift(); }
    }
    m.trail.setAttribute("points", m.pts.map(([x, z]) => toScreen(r, x, z).map((n) => n.toFixed(1)).join(",")).join(" "));
  }
  syncMap(r.peerEls, ids, (m) => { m.g.remove(); m.trail.remove(); });

  const keys = new Set();
  for (const a of room.anchors) {
    keys.add(a.key);
    let m = r.anchorEls.get(a.key);
    if (!m) {
      const g = el("g", { class: "anchor" }, r.anchors);
      g.dataset.anchor = a.key;
      el("rect", { x: -6, y: -6, width: 12, height: 12, rx: 2, transform: "rotate(45)" }, g);
      el("text", { x: 11, y: 4 }, g).textContent = a.key;
      m = { g };
      r.anchorEls.set(a.key, m);
    }
    const [sx, sy] = toScreen(r, a.x, a.z);
    m.g.setAttribute("transform", `translate(${sx.toFixed(1)} ${sy.toFixed(1)})`);
  }
  syncMap(r.anchorEls, keys, (m) => m.g.remove());

  for (const p of room.peers) {
    let row = r.rows.get(p.id);
    if (!row) { row = makeRow(r, p); r.rows.set(p.id, row); }
    row.tr.className = p.state;
    row.nm.textContent = p.name || "(no name)";
    row.pid.textContent = `#${p.id}`;
    row.rtt.textContent = fmt(p.rtt_ms, 2);
    row.age.textContent = fmt(p.pose_age_ms, 2);
    row.st.className = `badge ${p.state}`;
    row.st.textContent = p.state;
  }
  syncMap(r.rows, ids, (row) => row.tr.remove());
}

function render(view) {
  const t = view.hub;
  $("t-rooms").textContent = t.rooms;
  $("t-peers").textContent = t.peers;
  $("t-msgs").textContent = num(t.messages_per_s);
  $("t-poses").textContent = num(t.poses_per_s);
  $("t-in").textContent = bytes(t.bytes_in_per_s);
  $("t-out").textContent = bytes(t.bytes_out_per_s);
  $("t-queue").textContent = t.queue_high_water >= 1024 ? `${(t.queue_high_water / 1024).toFixed(0)} KiB` : `${t.queue_high_water} B`;
  $("hub-address").textContent = t.address ? `hub ${t.address}` : "";
  const up = Math.floor(view.time_ms / 1000);
  $("uptime").textContent = `up ${Math.floor(up / 60)}:${String(up % 60).padStart(2, "0")}`;

  const names = new Set();
  for (const room of view.rooms) {
    names.add(room.name);
    let r = rooms.get(room.name);
    if (!r) {
      r = makeRoom(room.name);
      rooms.set(room.name, r);
      $("rooms").appendChild(r.card);
      $("panel").appendChild(r.table);
    }
    drawRoom(r, room);
  }
  syncMap(rooms, names, (r) => { r.card.remove(); r.table.remove(); });
  $("empty").style.display = view.rooms.length ? "none" : "";
  if (!view.rooms.length) $("empty").textContent = "No rooms yet: no device has joined this hub.";
}

function setLink(state, text) {
  $("link").className = `link ${state}`;
  $("link-text").textContent = text;
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("open", () => setLink("up", "live"));
  es.addEventListener("error", () => setLink("down", "reconnecting…"));
  es.addEventListener("view", (ev) => {
    let view;
    try { view = JSON.parse(ev.data); } catch (e) { return; }
    render(view);
    updates++;
    document.body.dataset.updates = updates;
    // Rate by the hub's clock, so a burst of late events (a busy tab) does not inflate it.
    stamps.push(view.time_ms);
    while (stamps.length && stamps[0] <= view.time_ms - 1000) stamps.shift();
    const now = performance.now();
    if (now - lastRate >= 500 && view.time_ms >= 1000) {
      $("rate").textContent = `${stamps.length} updates/s`;
      lastRate = now;
    }
  });
}
connect();
