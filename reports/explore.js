// archbench explorer: draws the data of <script id=explore-data> with Plotly (inlined before this script).
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("explore-data").textContent);
  const $ = (id) => document.getElementById(id);
  const CONFIG = {responsive: true, displaylogo: false};
  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

  function options(select, labels) {
    select.replaceChildren();
    labels.forEach((label, i) => select.add(new Option(label, String(i))));
  }
  // token text goes into Plotly labels, which read a little HTML: "<s>" would vanish
  const esc = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  function note(id, text) { $(id).textContent = text || ""; }
  function clear(id) { Plotly.purge($(id)); $(id).style.display = "none"; }
  function draw(id, traces, layout) {
    $(id).style.display = "";
    layout = Object.assign({margin: {t: 64, r: 20}}, layout);  // titles on the left, clear of the mode bar
    if (layout.title) layout.title = Object.assign({x: 0.01, xanchor: "left", y: 0.98, yanchor: "top", font: {size: 14}}, layout.title);
    return Plotly.react($(id), traces, layout, CONFIG);
  }
  function ticks(texts, n) {  // token text as tick labels when short enough to read
    return texts && n <= 64 ? {tickvals: [...Array(n).keys()], ticktext: texts.map((t, i) => esc(t) || "·" + i)} : {};
  }
  function run() { return DATA.runs[Number($("run").value)]; }

  // -- attention ---------------------------------------------------------------------------------------
  function attentionLayer() {
    const view = run().attention, layers = view.layers || [];
    $("layer").disabled = $("head").disabled = !layers.length;
    if (!layers.length) { options($("layer"), []); options($("head"), []); }
    else {
      options($("layer"), layers.map((l, i) => `${i}: ${l.name}`));
    }
    attentionHeads();
  }
  function attentionHeads() {
    const layers = run().attention.layers || [];
    const layer = layers[Number($("layer").value)];
    if (layer) {
      const keep = Math.min(Number($("head").value) || 0, layer.weights.length - 1);
      options($("head"), layer.weights.map((_, h) => `head ${h}`));
      $("head").value = String(keep);
    }
    attention();
  }
  function attention() {
    const view = run().attention, layers = view.layers || [];
    note("attn-note", view.note);
    const layer = layers[Number($("layer").value)];
    if (!layer) { clear("attn"); return; }
    const z = layer.weights[Number($("head").value)], q = layer.query_text, k = layer.key_text;
    const label = (texts, i) => texts ? `${i} “${esc(texts[i])}”` : String(i);
    const custom = z.map((row, i) => row.map((_, j) => `query ${label(q, i)}<br>key ${label(k, j)}`));
    draw("attn", [{type: "heatmap", z: z, customdata: custom, colorscale: "Viridis", zmin: 0,
                   colorbar: {title: {text: "weight"}},
                   hovertemplate: "%{customdata}<br>weight %{z:.3f}<extra></extra>"}],
         {title: {text: `${run().label}: ${layer.name}, head ${$("head").value}`},
          xaxis: Object.assign({title: {text: "key (attended) position"}}, ticks(k, z[0].length)),
          yaxis: Object.assign({title: {text: "query position"}, autorange: "reversed"}, ticks(q, z.length)),
          height: Math.min(900, 260 + 12 * z.length)});
  }

  // -- positional encoding -----------------------------------------------------------------------------
  function pe() {
    const view = run().pe, table = view.table;
    note("pe-note", view.note);
    $("pe-pos").disabled = !table;
    if (!table) { clear("pe"); clear("pe-sim"); $("pe-pos-value").textContent = ""; return; }
    $("pe-pos").max = String(table.length - 1);
    if (Number($("pe-pos").value) > table.length - 1) $("pe-pos").value = "0";
    draw("pe", [{type: "heatmap", z: table, colorscale: "RdBu", zmid: 0,
                 hovertemplate: "position %{y}, dimension %{x}: %{z:.3f}<extra></extra>"}],
         {title: {text: "PE table added to the embeddings"}, xaxis: {title: {text: "dimension"}},
          yaxis: {title: {text: "position"}, autorange: "reversed"}, height: 460});
    peSimilarity();
  }
  function peSimilarity() {
    const table = run().pe.table;
    if (!table) return;
    const p = Number($("pe-pos").value), row = table[p];
    $("pe-pos-value").textContent = String(p);
    const sim = table.map((other) => other.reduce((s, v, d) => s + v * row[d], 0));
    draw("pe-sim", [{type: "scatter", mode: "lines", x: [...sim.keys()], y: sim, name: "PE·PE",
                     hovertemplate: `PE(${p})·PE(%{x}) = %{y:.3f}<extra></extra>`},
                    {type: "scatter", mode: "markers", x: [p], y: [sim[p]], name: `position ${p}`,
                     marker: {size: 10, color: "#d62728"}, hoverinfo: "skip"}],
         {title: {text: `dot product of PE(${p}) with every position`}, showlegend: false,
          xaxis: {title: {text: "position"}}, yaxis: {title: {text: "PE(p)·PE(j)"}}, height: 400});
  }

  // -- hidden states -----------------------------------------------------------------------------------
  function hidden() {
    const view = run().hidden, layers = view.layers || [];
    note("hidden-note", view.note);
    $("pca-layer").disabled = $("pca-colour").disabled = !layers.length;
    if (!layers.length) { clear("cka"); clear("pca"); $("pca-layer-value").textContent = ""; return; }
    const idx = [...view.names.keys()];
    draw("cka", [{type: "heatmap", z: view.cka, x: idx, y: idx, zmin: 0, zmax: 1, colorscale: "Viridis",
                  customdata: view.cka.map((row, i) => row.map((_, j) => `${view.names[i]} vs ${view.names[j]}`)),
                  hovertemplate: "%{customdata}: CKA %{z:.3f}<extra></extra>"}],
         {title: {text: "linear CKA between layers (1 = the same up to rotation and scale)"},
          xaxis: {tickvals: idx, ticktext: view.names}, yaxis: {tickvals: idx, ticktext: view.names,
          autorange: "reversed"}, height: 460});
    $("pca-layer").max = String(layers.length - 1);
    if (Number($("pca-layer").value) > layers.length - 1) $("pca-layer").value = "0";
    $("pca-colour").options[1].disabled = !layers.some((l) => l.cls);
    if (!layers.some((l) => l.cls)) $("pca-colour").value = "position";
    pca();
  }
  function pca() {
    const view = run().hidden, layers = view.layers || [];
    const i = Number($("pca-layer").value), layer = layers[i];
    if (!layer) return;
    $("pca-layer-value").textContent = `${i}: ${view.names[i]}`;
    const by = $("pca-colour").value === "cls" && layer.cls ? "cls" : "position";
    const hover = layer.position.map((p, n) => `sequence ${layer.seq[n]}, position ${p}` +
      (layer.text ? ` “${esc(layer.text[n])}”` : "") + (layer.cls ? `, class ${layer.cls[n]}` : ""));
    const pct = (v) => (100 * v).toFixed(1) + "%";
    draw("pca", [{type: "scattergl", mode: "markers", x: layer.x, y: layer.y, text: hover,
                  marker: {size: 5, color: layer[by], colorscale: by === "cls" ? "Portland" : "Viridis",
                           showscale: true, colorbar: {title: {text: by === "cls" ? "class" : "position"}}},
                  hovertemplate: "%{text}<extra></extra>"}],
         {title: {text: `PCA of the token states after ${view.names[i]}`},
          xaxis: {title: {text: `PC1 (${pct(layer.explained[0])} of variance)`}},
          yaxis: {title: {text: `PC2 (${pct(layer.explained[1])})`}}, height: 460});
  }

  // -- gradient norm vs distance ----------------------------------------------------------------------
  const GRAD = [];
  DATA.grad.forEach((t) => t.settings.forEach((s) => GRAD.push({label: `${t.task}: ${s.name}`, curves: s.curves})));
  const ARCHS = [...new Set(GRAD.flatMap((g) => g.curves.map((c) => c.arch)))];
  function gradControls() {
    options($("grad-set"), GRAD.map((g) => g.label));
    $("grad-archs").replaceChildren();
    ARCHS.forEach((arch) => {
      const box = document.createElement("label"), input = document.createElement("input");
      input.type = "checkbox"; input.checked = true; input.value = arch;  // names as text, never as markup
      input.addEventListener("change", grad);
      box.append(input, document.createTextNode(" " + arch));
      $("grad-archs").appendChild(box);
    });
    $("grad-set").disabled = !GRAD.length;
    note("grad-note", GRAD.length ? "" : "no run recorded long_range.grad_norm_by_distance (token tasks, with trainer.probes=true)");
  }
  function grad() {
    const set = GRAD[Number($("grad-set").value)];
    if (!set) { clear("grad"); return; }
    const shown = new Set([...$("grad-archs").querySelectorAll("input:checked")].map((b) => b.value));
    const traces = [];
    set.curves.filter((c) => shown.has(c.arch)).forEach((c) => {
      const colour = COLOURS[ARCHS.indexOf(c.arch) % COLOURS.length];
      [["end", "solid"], ["init", "dash"]].forEach(([when, dash]) => {
        if (c[when]) traces.push({type: "scatter", mode: "lines", x: c.distance, y: c[when], legendgroup: c.arch,
          name: `${esc(c.arch)} (${when}, n=${c.n})`, line: {color: colour, dash: dash},
          hovertemplate: `${esc(c.arch)} ${when}: distance %{x}, ‖∂L/∂e‖ %{y:.3g}<extra></extra>`});
      });
    });
    draw("grad", traces, {title: {text: esc(set.label)}, xaxis: {title: {text: "distance j − t (positions)"}},
                          yaxis: {title: {text: "gradient norm"}, type: "log"}, height: 460});
  }

  // -- wiring ------------------------------------------------------------------------------------------
  options($("run"), DATA.runs.map((r) => r.label));
  note("run-note", DATA.runs.length ? (DATA.left_out ? `(${DATA.left_out} more runs not offered)` : "")
                                    : "no completed run to look inside");
  function all() { attentionLayer(); pe(); hidden(); }
  $("run").addEventListener("change", all);
  $("layer").addEventListener("change", attentionHeads);
  $("head").addEventListener("change", attention);
  $("pe-pos").addEventListener("input", peSimilarity);
  $("pca-layer").addEventListener("input", pca);
  $("pca-colour").addEventListener("change", pca);
  $("grad-set").addEventListener("change", grad);
  if (DATA.runs.length) all();
  else {
    ["layer", "head", "pe-pos", "pca-layer", "pca-colour"].forEach((id) => { $(id).disabled = true; });
    ["attn", "pe", "pe-sim", "cka", "pca"].forEach(clear);
  }
  gradControls();
  grad();
  document.body.dataset.ready = "true";
})();
