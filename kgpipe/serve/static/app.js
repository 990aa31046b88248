/* kgpipe's graph explorer: search, neighbourhoods drawn with vis-network, provenance, ask.
   Served by `kgpipe serve` it reads the HTTP API; in a file written by `kgpipe export --format html`
   it reads the graph embedded in the page (window.KGPIPE_DATA) and the ask box is hidden. */
(function () {
  "use strict";
  const EMBEDDED = window.KGPIPE_DATA || null;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const PALETTE = ["#4e79a7", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#f28e2b", "#bab0ac"];
  const typeColour = (t) => { let h = 0; for (const c of String(t || "")) h = (h * 31 + c.charCodeAt(0)) >>> 0; return PALETTE[h % PALETTE.length]; };

  // -- data: the HTTP API, or the graph embedded in an exported page -----------------------------------
  async function api(path, options) {
    const r = await fetch(path, options);
    const body = await r.json().catch(() => ({error: {message: r.statusText}}));
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    return body;
  }
  const local = EMBEDDED && (() => {
    const byId = new Map(EMBEDDED.graph.nodes.map((n) => [n.id, n]));
    const fold = (s) => String(s || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/_/g, " ");
    return {
      search(q) {
        const k = fold(q);
        return EMBEDDED.graph.nodes.map((n) => ({n, i: fold(n.name).indexOf(k)})).filter((x) => x.i >= 0)
          .sort((a, b) => a.i - b.i || a.n.name.length - b.n.name.length).slice(0, 20).map((x) => x.n);
      },
      neighbourhood(id) {
        const edges = EMBEDDED.graph.edges.filter((e) => e.from === id || e.to === id);
        const ids = new Set([id]); edges.forEach((e) => { ids.add(e.from); ids.add(e.to); });
        return {center: id, nodes: [...ids].map((x) => byId.get(x)).filter(Boolean), edges};
      },
      provenance(factId) { return EMBEDDED.provenance[factId] || null; },
    };
  })();
  const source = {
    stats: () => EMBEDDED ? Promise.resolve(EMBEDDED.stats) : api("/api/stats"),
    search: (q, type) => EMBEDDED ? Promise.resolve(local.search(q)) :
      api("/api/search?" + new URLSearchParams(Object.assign({q, limit: 20}, type ? {type} : {}))).then((r) => r.results),
    neighbourhood: (id) => EMBEDDED ? Promise.resolve(local.neighbourhood(id)) : api(`/api/entities/${encodeURIComponent(id)}/neighbourhood`),
    provenance: (factId) => EMBEDDED ? Promise.resolve(local.provenance(factId)) : api(`/api/facts/${encodeURIComponent(factId)}/provenance`),
    ask: (question) => api("/api/ask", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({question})}),
  };

  // -- the drawing -------------------------------------------------------------------------------------
  const nodes = new vis.DataSet();
  const edges = new vis.DataSet();
  const network = new vis.Network($("graph"), {nodes, edges}, {
    physics: {stabilization: {iterations: 150}, barnesHut: {springLength: 140, avoidOverlap: 0.2}},
    interaction: {hover: true, tooltipDelay: 150},
    nodes: {shape: "dot", size: 14, font: {size: 14, strokeWidth: 3, strokeColor: "#fff"}},
    edges: {arrows: {to: {enabled: true, scaleFactor: 0.6}}, font: {size: 11, align: "middle", strokeWidth: 3, strokeColor: "#fff"},
            smooth: {type: "dynamic"}, color: {color: "#7a8794", highlight: "#2f6fb3", hover: "#2f6fb3"}},
  });
  const info = new Map(); // edge id -> the edge as the API gave it
  const kg = window.kg = {nodes, edges, network, info, highlighted: [], pathNodes: [], expanded: new Set(), lastProvenance: null};

  function addNode(n, centre) {
    const existing = nodes.get(n.id);
    const type = n.type != null ? n.type : existing ? existing.ktype : null;
    const item = {id: n.id, label: n.name, ktype: type, title: `${n.name}${type ? " (" + type + ")" : ""}`,
                  color: {background: typeColour(type), border: "#2d3640"}};
    if (centre || (existing && existing.expanded)) Object.assign(item, {size: 20, expanded: true, borderWidth: 3});
    existing ? nodes.update(item) : nodes.add(item);
  }
  function edgeStyle(e) {
    if (e.predicted) {
      const score = e.score == null ? "" : ` (${Number(e.score).toFixed(2)})`;
      return {label: e.relation + score, dashes: [6, 5], color: {color: "#9a6bd0"}, width: 1.5,
              title: `predicted link ${e.relation}${score}: not a fact`};
    }
    const conf = e.confidence == null ? null : Number(e.confidence);
    return {label: (e.conflict ? "⚠ " : "") + e.relation, dashes: false, width: 1 + 2.5 * (conf == null ? 0.5 : conf),
            color: {color: e.conflict ? "#d0342c" : "#7a8794"},
            title: `${e.relation}${conf == null ? "" : " · confidence " + conf.toFixed(2)}${e.conflict ? " · CONFLICT: another value of this relation wins" : ""}`};
  }
  function addEdge(e) {
    info.set(e.id, e);
    const item = Object.assign({id: e.id, from: e.from, to: e.to}, edgeStyle(e));
    edges.get(e.id) ? edges.update(item) : edges.add(item);
  }

  async function expand(id, focus) {
    const g = await source.neighbourhood(id);
    g.nodes.forEach((n) => addNode(n, n.id === id));
    g.edges.forEach(addEdge);
    kg.expanded.add(id);
    if (focus) network.once("stabilized", () => network.focus(id, {scale: 1.0, animation: false}));
    showEntity(id, g);
  }

  function showEntity(id, g) {
    const n = nodes.get(id);
    const facts = g.edges.filter((e) => !e.predicted);
    const predicted = g.edges.filter((e) => e.predicted);
    const name = (x) => esc((nodes.get(x) || {}).label || x);
    const row = (e) => `<li class="fact-row" data-edge="${esc(e.id)}">${name(e.from)} <b>${esc(e.relation)}</b> ${name(e.to)}` +
      (e.conflict ? ' <span class="conflict" title="conflicting value">⚠ conflict</span>' : "") +
      (e.predicted ? ` <span class="predicted">predicted ${Number(e.score).toFixed(2)}</span>` :
        (e.confidence == null ? "" : ` <span class="score">${Number(e.confidence).toFixed(2)}</span>`)) + "</li>";
    $("details").innerHTML = `<h2>${esc(n ? n.label : id)}</h2><h3>Facts (${facts.length})</h3><ol id="facts">${facts.map(row).join("")}</ol>` +
      (predicted.length ? `<h3>Predicted links (not facts)</h3><ol>${predicted.map(row).join("")}</ol>` : "");
    $("details").querySelectorAll("[data-edge]").forEach((li) => li.addEventListener("click", () => {
      network.selectEdges([li.dataset.edge]); showEdge(li.dataset.edge);
    }));
  }

  function highlightSentence(chunk) {
    const text = chunk.text || "", s = chunk.sentence;
    if (!s) return esc(text);
    const names = [...(s.head || []), ...(s.tail || [])].sort((a, b) => a[0] - b[0]);
    let out = esc(text.slice(0, s.start)) + '<mark class="sentence">', at = s.start;
    for (const [a, b] of names) {
      if (a < at) continue;
      out += esc(text.slice(at, a)) + '<mark class="name">' + esc(text.slice(a, b)) + "</mark>"; at = b;
    }
    return out + esc(text.slice(at, s.end)) + "</mark>" + esc(text.slice(s.end));
  }

  async function showEdge(id) {
    const e = info.get(id);
    if (!e) return;
    if (e.predicted) {
      $("details").innerHTML = `<h2 class="predicted">Predicted link</h2><p>${esc((nodes.get(e.from) || {}).label)} <b>${esc(e.relation)}</b> ` +
        `${esc((nodes.get(e.to) || {}).label)}</p><p>score ${Number(e.score).toFixed(3)}: learned from the graph by link ` +
        `prediction (kgpipe complete), not read from any document.</p>`;
      return;
    }
    $("details").innerHTML = '<p class="muted">Loading provenance…</p>';
    try {
      const p = await source.provenance(id);
      kg.lastProvenance = p;
      if (!p) { $("details").innerHTML = '<p class="muted">No provenance in this export.</p>'; return; }
      const f = p.fact;
      const docs = new Map((p.documents || []).map((d) => [d.id, d]));
      $("details").innerHTML = `<h2>${esc(f.head)} <b>${esc(f.relation)}</b> ${esc(f.tail)}</h2>` +
        `<p>${f.confidence == null ? "" : "confidence " + Number(f.confidence).toFixed(2) + " · "}${esc(f.extractor || "")}` +
        `${f.conflict ? ' · <span class="conflict">conflict: another value of this relation wins</span>' : ""}</p>` +
        p.chunks.map((c) => { const d = docs.get(c.doc_id) || {};
          return `<h3>${esc(d.title || "document")} <span class="doc">${esc(d.path || "")}</span></h3><div class="chunk" id="chunk-${esc(c.chunk_id)}">${highlightSentence(c)}</div>`;
        }).join("") + (p.chunks.length ? "" : '<p class="muted">Imported fact: no source text.</p>');
      const m = $("details").querySelector("mark.sentence");
      if (m) m.scrollIntoView({block: "nearest"});
    } catch (err) { $("details").innerHTML = `<p class="error">${esc(err.message)}</p>`; }
  }

  network.on("click", (params) => {
    if (params.nodes.length) expand(params.nodes[0], false).catch(showError);
    else if (params.edges.length) showEdge(params.edges[0]);
  });
  function showError(err) { $("details").innerHTML = `<p class="error">${esc(err.message || err)}</p>`; }

  // -- search ------------------------------------------------------------------------------------------
  let pending = 0;
  async function runSearch() {
    const q = $("search").value.trim(), ticket = ++pending;
    if (!q) { $("results").innerHTML = ""; return; }
    try {
      const results = await source.search(q, $("search-type").value.trim());
      if (ticket !== pending) return;
      $("results").innerHTML = results.length ? results.map((r) => `<li data-id="${esc(r.id)}">${esc(r.name)}<span class="type">${esc(r.type || "")}</span>` +
        (r.score != null ? `<span class="score">${r.score}</span>` : "") + "</li>").join("") : '<li class="muted">no entity matches</li>';
      $("results").querySelectorAll("[data-id]").forEach((li) => li.addEventListener("click", () => {
        nodes.clear(); edges.clear(); info.clear(); kg.expanded.clear(); kg.highlighted = [];
        expand(li.dataset.id, true).catch(showError);
      }));
    } catch (err) { $("results").innerHTML = `<li class="error">${esc(err.message)}</li>`; }
  }
  let timer = null;
  $("search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 200); });
  $("search-type").addEventListener("change", runSearch);
  $("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch(); });

  // -- ask: the answer, its verified paths drawn and highlighted ---------------------------------------
  function highlightPath(path) {
    const ids = [];
    for (const h of path.hops) {
      addNode({id: h.head_id, name: h.head}); addNode({id: h.tail_id, name: h.tail});
      let edge = edges.get({filter: (x) => x.from === h.head_id && x.to === h.tail_id && info.get(x.id) && !info.get(x.id).predicted &&
                                          info.get(x.id).relation === h.relation})[0];
      if (!edge) {
        const id = `path:${h.head_id}:${h.relation}:${h.tail_id}`;
        addEdge({id, from: h.head_id, to: h.tail_id, relation: h.relation, predicted: false});
        edge = edges.get(id);
      }
      ids.push(edge.id);
    }
    const onPath = [...new Set(path.hops.flatMap((h) => [h.head_id, h.tail_id]))];
    kg.highlighted.forEach((id) => { const e = info.get(id); if (e && edges.get(id)) edges.update(Object.assign({id}, edgeStyle(e))); });
    const paint = (id, border) => ({background: typeColour(nodes.get(id).ktype), border});
    kg.pathNodes.forEach((id) => nodes.get(id) && nodes.update({id, borderWidth: nodes.get(id).expanded ? 3 : 1,
                                                                color: paint(id, "#2d3640")}));
    const orange = {color: "#f0a020", highlight: "#f0a020", hover: "#f0a020"};
    ids.forEach((id) => edges.update({id, color: orange, width: 6}));
    onPath.forEach((id) => nodes.update({id, borderWidth: 5, color: paint(id, "#f0a020")}));
    kg.highlighted = ids; kg.pathNodes = onPath;
    network.unselectAll();
    network.fit({nodes: onPath, animation: false});
  }
  if (EMBEDDED) { $("ask-panel").style.display = "none"; $("mode").textContent = "exported " + (EMBEDDED.created || ""); }
  $("ask-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("question").value.trim();
    if (!q) return;
    $("ask-button").disabled = true; $("answer").innerHTML = '<p class="muted">Thinking…</p>';
    try {
      const a = await source.ask(q);
      const paths = (a.paths || []).filter((p) => p.verified);
      $("answer").innerHTML = `<p><b>${esc(a.answer || "(no path found)")}</b></p>` + paths.map((p, i) =>
        `<div class="path" data-i="${i}">${esc(p.text)} <span class="score">${Number(p.score).toFixed(1)}</span></div>`).join("");
      $("answer").querySelectorAll(".path").forEach((el) => el.addEventListener("click", () => highlightPath(paths[+el.dataset.i])));
      if (paths.length) highlightPath(paths[0]);
    } catch (err) { $("answer").innerHTML = `<p class="error">${esc(err.message)}</p>`; }
    finally { $("ask-button").disabled = false; }
  });

  // -- stats -------------------------------------------------------------------------------------------
  source.stats().then((s) => {
    const keys = ["documents", "chunks", "entities", "facts", "predicted_links", "relation_types"];
    $("stats").innerHTML = "<h2>Graph</h2><dl>" + keys.filter((k) => k in s).map((k) => `<dt>${k.replace("_", " ")}</dt><dd>${s[k]}</dd>`).join("") + "</dl>";
  }).catch((err) => { $("stats").innerHTML = `<p class="error">${esc(err.message)}</p>`; });

  // an exported page opens on its entity, or draws a small graph whole
  if (EMBEDDED && EMBEDDED.center) expand(EMBEDDED.center, true).catch(showError);
  else if (EMBEDDED && EMBEDDED.graph.edges.length <= 500) {
    EMBEDDED.graph.nodes.forEach((n) => addNode(n, false));
    EMBEDDED.graph.edges.forEach(addEdge);
  }
})();
