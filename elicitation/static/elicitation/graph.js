// The moral graph: a small force layout in plain SVG. All participant text goes in via textContent.
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 800, H = 560;
  let data = null, selected = null;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, text, parent, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  function layout(nodes, edges) {
    // Deterministic start on a circle, then springs along edges and repulsion between all pairs.
    nodes.forEach((n, i) => {
      const a = (2 * Math.PI * i) / Math.max(nodes.length, 1);
      n.x = W / 2 + 200 * Math.cos(a); n.y = H / 2 + 200 * Math.sin(a);
    });
    const index = new Map(nodes.map((n) => [n.id, n]));
    for (let step = 0; step < 300; step++) {
      const cool = 1 - step / 300;
      for (const a of nodes) { a.dx = (W / 2 - a.x) * 0.01; a.dy = (H / 2 - a.y) * 0.01; }
      for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) {
        const a = nodes[i], b = nodes[j];
        let dx = a.x - b.x, dy = a.y - b.y, d2 = dx * dx + dy * dy + 0.01;
        const f = 4000 / d2;
        a.dx += dx * f / Math.sqrt(d2); a.dy += dy * f / Math.sqrt(d2);
        b.dx -= dx * f / Math.sqrt(d2); b.dy -= dy * f / Math.sqrt(d2);
      }
      for (const e of edges) {
        const a = index.get(e.sourceValueId), b = index.get(e.wiserValueId);
        const dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01, f = (d - 120) * 0.02;
        a.dx += dx / d * f; a.dy += dy / d * f; b.dx -= dx / d * f; b.dy -= dy / d * f;
      }
      for (const n of nodes) {
        n.x = Math.min(W - 30, Math.max(30, n.x + n.dx * cool));
        n.y = Math.min(H - 30, Math.max(30, n.y + n.dy * cool));
      }
    }
  }

  function draw() {
    const svg = document.getElementById("graph");
    svg.replaceChildren();
    const context = document.getElementById("graph-context").value;
    const edges = data.edges.filter((e) => !context || e.contexts.map(String).includes(context));
    const ids = new Set(edges.flatMap((e) => [e.sourceValueId, e.wiserValueId]));
    const nodes = data.values.filter((v) => ids.has(v.id)).map((v) => ({ ...v }));
    const status = document.getElementById("graph-status");
    // Filtered by a context, the total counts that context's votes only.
    const votes = context ? (data.contextVoteCounts[context] || 0) : data.voteCount;
    const where = context ? " in this context" : "";
    status.textContent = edges.length
      ? `${nodes.length} values, ${edges.length} upgrades, from ${votes} votes${where} as of ${new Date(data.asOf).toLocaleString()}.`
      : `No upgrade has enough agreement yet (${votes} votes${where}). An edge needs at least 2 "wiser" votes, a wiser-likelihood of 0.33 and low disagreement.`;
    if (!edges.length) return;
    layout(nodes, edges);
    // Zoom to the drawing: a small graph should fill the panel, not sit in its middle.
    const xs = nodes.map((n) => n.x), ys = nodes.map((n) => n.y), pad = 70;
    const minX = Math.min(...xs) - pad, minY = Math.min(...ys) - pad;
    const w = Math.max(Math.max(...xs) - minX + pad, 360), h = Math.max(Math.max(...ys) - minY + pad, 260);
    svg.setAttribute("viewBox", `${minX} ${minY} ${w} ${h}`);
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 12, markerHeight: 12, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8892a6" }, marker);
    const maxRank = Math.max(...nodes.map((n) => n.pageRank), 1e-9);
    const radius = (n) => 8 + 26 * Math.sqrt(n.pageRank / maxRank);
    const index = new Map(nodes.map((n) => [n.id, n]));
    for (const e of edges) {
      const a = index.get(e.sourceValueId), b = index.get(e.wiserValueId);
      const dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
      const line = el("line", {
        x1: a.x + dx / d * radius(a), y1: a.y + dy / d * radius(a), x2: b.x - dx / d * (radius(b) + 2), y2: b.y - dy / d * (radius(b) + 2),
        stroke: "#8892a6", "stroke-width": 1 + 3 * Math.max(0, e.summary.wiserLikelihood), "marker-end": "url(#arrow)", class: "graph-edge",
      }, svg);
      el("title", {}, line).textContent = `${e.counts.markedWiser} of ${e.counts.impressions} said wiser (likelihood ${e.summary.wiserLikelihood.toFixed(2)})`;
    }
    for (const n of nodes) {
      const g = el("g", { class: "graph-node", tabindex: 0, role: "button", "data-id": n.id }, svg);
      el("circle", { cx: n.x, cy: n.y, r: radius(n), fill: selected === n.id ? "#3b5bdb" : "#91a7ff", stroke: "#3b5bdb" }, g);
      const label = el("text", { x: n.x, y: n.y + radius(n) + 12, "text-anchor": "middle", "font-size": 11, fill: "#1d2330" }, g);
      label.textContent = n.title;
      const open = () => { selected = n.id; show(n); draw(); };
      g.addEventListener("click", open);
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
    }
  }

  function show(value) {
    const box = document.getElementById("graph-detail");
    box.replaceChildren();
    const card = html("article", undefined, box, "values-card");
    html("h3", value.title, card);
    html("p", value.description, card);
    const list = html("ul", undefined, card);
    for (const p of value.policies || []) html("li", p, list);
    html("p", `PageRank ${value.pageRank.toFixed(4)}`, box, "muted small");
    const split = (data.split || []).filter((s) => s.wiserValueId === value.id || s.sourceValueId === value.id);
    for (const s of split) {
      const other = data.values.find((v) => v.id === (s.wiserValueId === value.id ? s.sourceValueId : s.wiserValueId));
      html("p", `${other ? other.title : "?"} → ${data.values.find((v) => v.id === s.wiserValueId).title}, agreement by group:`, box, "small");
      const ul = html("ul", undefined, box, "small");
      for (const [g, t] of Object.entries(s.groups)) html("li", `${g}: likelihood ${t.wiserLikelihood.toFixed(2)} over ${t.votes} votes`, ul);
    }
  }

  function wisest() {
    const box = document.getElementById("graph-wisest");
    box.replaceChildren();
    const rows = data.wisest.filter((w) => w.values.length);
    if (!rows.length) { html("p", "Nothing yet.", box, "empty"); return; }
    for (const w of rows) {
      html("p", w.context, box, "context-name");
      const ol = html("ol", undefined, box);
      for (const v of w.values.slice(0, 3)) html("li", v.title, ol);
    }
  }

  async function load() {
    const params = new URLSearchParams();
    const asOf = document.getElementById("graph-as-of").value;
    if (asOf) params.set("as_of", new Date(asOf).toISOString());
    const split = document.getElementById("graph-split").value.trim();
    if (split) params.set("split", split);
    const status = document.getElementById("graph-status");
    const response = await fetch(`${document.getElementById("graph").dataset.source}?${params}`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const reasons = Object.values(body.detail || {}).flat();
      status.textContent = reasons.length ? reasons.join(" ") : "Could not load the graph.";
      return;
    }
    data = await response.json();
    draw(); wisest();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("graph-controls").addEventListener("submit", (ev) => ev.preventDefault());
    document.getElementById("graph-context").addEventListener("change", draw);
    document.getElementById("graph-as-of").addEventListener("change", load);
    document.getElementById("graph-split").addEventListener("change", load);
    load();
  });
})();
