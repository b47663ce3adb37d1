// Small SVG pictures drawn from SPARQL JSON results: bars, a timeline, a graph.
// No library and no network: the results come from this server's /sparql.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function value(binding, name) { return binding[name] ? binding[name].value : ""; }

  function runSelect(queryText) {
    return fetch("/sparql", {
      method: "POST",
      headers: { "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json" },
      body: queryText
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function fetchExample(name) {
    return fetch("/queries/" + name + ".rq").then(function (r) { return r.text(); }).then(runSelect);
  }

  // Bars: the first text column against the first numeric column.
  function bars(container, variables, bindings) {
    container.textContent = "";
    var label = null, number = null;
    variables.forEach(function (v) {
      var numeric = bindings.length && bindings.every(function (b) { return b[v] && !isNaN(parseFloat(b[v].value)); });
      if (numeric && number === null) number = v;
      else if (!numeric && label === null) label = v;
    });
    var note = document.getElementById("chart-note");
    if (label === null || number === null || !bindings.length) {
      if (note) note.hidden = false;
      return;
    }
    if (note) note.hidden = true;
    var max = Math.max.apply(null, bindings.map(function (b) { return parseFloat(b[number].value); })) || 1;
    var rowHeight = 26, width = 640;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + (bindings.length * rowHeight + 10), role: "img",
                          "aria-label": "Bar chart of " + number + " by " + label, width: "100%" });
    bindings.forEach(function (b, i) {
      var n = parseFloat(b[number].value);
      var y = i * rowHeight + 5;
      svg.appendChild(el("text", { x: 0, y: y + 16, "font-size": 13 }, value(b, label).slice(0, 40)));
      svg.appendChild(el("rect", { x: 300, y: y + 3, width: Math.max(2, (width - 360) * n / max), height: rowHeight - 8,
                                   fill: "#0b57a4" }));
      svg.appendChild(el("text", { x: width - 50, y: y + 16, "font-size": 13 }, String(n)));
    });
    container.appendChild(svg);
  }

  // Timeline: one mark per dated row, derived ones dashed.
  function timeline(container, bindings) {
    container.textContent = "";
    var years = bindings.map(function (b) { var d = value(b, "date"); return parseInt(d.slice(0, 4), 10) + (parseInt(d.slice(5, 7), 10) - 1) / 12; });
    var lo = Math.floor(Math.min.apply(null, years)) - 1, hi = Math.ceil(Math.max.apply(null, years)) + 1;
    var width = 900, left = 40, right = 40, axisY = 60;
    var x = function (t) { return left + (width - left - right) * (t - lo) / (hi - lo); };
    var svg = el("svg", { viewBox: "0 0 " + width + " " + (axisY + 60 + bindings.length * 40), width: "100%", role: "img",
                          "aria-label": "Timeline of the India-Japan digital partnership and the semiconductor MoC", id: "timeline-svg" });
    svg.appendChild(el("line", { x1: left, y1: axisY, x2: width - right, y2: axisY, stroke: "#1a1a1a", "stroke-width": 2 }));
    for (var year = lo; year <= hi; year++) {
      svg.appendChild(el("line", { x1: x(year), y1: axisY - 5, x2: x(year), y2: axisY + 5, stroke: "#1a1a1a" }));
      svg.appendChild(el("text", { x: x(year), y: axisY - 12, "font-size": 12, "text-anchor": "middle" }, String(year)));
    }
    bindings.forEach(function (b, i) {
      var derived = value(b, "derived") === "true";
      var cx = x(years[i]), y = axisY + 40 + i * 40;
      svg.appendChild(el("line", { x1: cx, y1: axisY, x2: cx, y2: y - 12, stroke: "#0b57a4", "stroke-dasharray": derived ? "4 3" : "" }));
      svg.appendChild(el("circle", { cx: cx, cy: axisY, r: 6, fill: derived ? "#ffffff" : "#0b57a4", stroke: "#0b57a4", "stroke-width": 2, "class": "event" }));
      var anchor = cx > width / 2 ? "end" : "start";
      svg.appendChild(el("text", { x: cx, y: y, "font-size": 13, "text-anchor": anchor },
                         value(b, "date") + ": " + value(b, "label") + (derived ? " (derived)" : "")));
    });
    container.appendChild(svg);
  }

  // Graph: the centre node with its neighbours on a circle.
  // The neighbourhood graph, laid out and drawn by Cytoscape.js (served by this server, installed by
  // `make ui`): labels wrap at word boundaries inside their nodes, edges carry arrowheads and their
  // labels a background, and the drawing is fitted to the box. Without it the table below stands alone.
  function graph(container, bindings, centre) {
    if (typeof window.cytoscape !== "function") { container.hidden = true; return; }
    var elements = [], seen = {};
    function add(iri, label) {
      if (seen[iri]) return;
      seen[iri] = true;
      elements.push({ data: { id: iri, label: label, centre: iri === centre ? 1 : 0 } });
    }
    // Relations between the same two things share one edge and one label ("signing · in force from"),
    // so parallel edges never stack their labels on each other.
    var edges = {}, edgeOrder = [];
    bindings.forEach(function (b) {
      add(value(b, "from"), value(b, "fromLabel"));
      add(value(b, "to"), value(b, "toLabel"));
      var key = value(b, "from") + " " + value(b, "to");
      if (!edges[key]) { edges[key] = { source: value(b, "from"), target: value(b, "to"), labels: [] }; edgeOrder.push(key); }
      if (edges[key].labels.indexOf(value(b, "relation")) < 0) edges[key].labels.push(value(b, "relation"));
    });
    edgeOrder.forEach(function (key, i) {
      var e = edges[key];
      elements.push({ data: { id: "edge-" + i, source: e.source, target: e.target, label: e.labels.join(" · ") } });
    });
    var cy = window.cytoscape({
      container: container, elements: elements, userZoomingEnabled: true, boxSelectionEnabled: false,
      style: [
        { selector: "node", style: { "shape": "round-rectangle", "background-color": "#e8f0fb", "border-color": "#0b57a4",
          "border-width": 1, "label": "data(label)", "text-wrap": "wrap", "text-max-width": 150, "font-size": 11,
          "text-valign": "center", "text-halign": "center", "width": "label", "height": "label", "padding": 8,
          "color": "#1a1a1a" } },
        { selector: "node[centre = 1]", style: { "background-color": "#fff1de", "border-color": "#b35c00", "border-width": 2 } },
        { selector: "edge", style: { "curve-style": "bezier", "width": 1.2, "line-color": "#7d8896",
          "target-arrow-shape": "triangle", "target-arrow-color": "#7d8896", "arrow-scale": 1.1,
          "label": "data(label)", "font-size": 9, "color": "#4a4a4a", "text-rotation": "autorotate",
          "text-background-color": "#ffffff", "text-background-opacity": 1, "text-background-padding": 2 } }
      ],
      layout: { name: "cose", animate: false, randomize: false, nodeDimensionsIncludeLabels: true,
                idealEdgeLength: function () { return 140; }, nodeRepulsion: function () { return 600000; },
                edgeElasticity: function () { return 60; }, gravity: 0.25, numIter: 2500, padding: 24 }
    });
    cy.fit(undefined, 24);
    cy.on("tap", "node", function (event) {
      var iri = event.target.id();
      if (!linkable(iri)) return;      // javascript:, data:… lead nowhere
      window.location.href = iri.indexOf(location.origin) === 0 ? iri.slice(location.origin.length) : localPath(iri);
    });
    describeLayout(container, cy);
  }

  // IRIs of the publication open their page on this server (the pages serve /id/… for the base's IRIs).
  function localPath(iri) {
    var at = iri.indexOf("/id/");
    return at >= 0 ? iri.slice(at) : iri;
  }

  // What was drawn, as attributes the tests (and curious readers) can check: counts, arrowheads,
  // anything outside the box, overlapping edge labels.
  function describeLayout(container, cy) {
    var width = container.clientWidth, height = container.clientHeight, clipped = 0, overlaps = 0;
    cy.nodes().forEach(function (n) {
      var box = n.renderedBoundingBox({ includeLabels: true });
      if (box.x1 < 0 || box.y1 < 0 || box.x2 > width || box.y2 > height) clipped += 1;
    });
    var labels = cy.edges().map(function (e) {
      return e.renderedBoundingBox({ includeNodes: false, includeEdges: false, includeLabels: true });
    });
    for (var i = 0; i < labels.length; i++) {
      for (var j = i + 1; j < labels.length; j++) {
        var a = labels[i], b = labels[j];
        if (a.w && b.w && a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps += 1;
      }
    }
    container.setAttribute("data-nodes", cy.nodes().length);
    container.setAttribute("data-edges", cy.edges().length);
    container.setAttribute("data-arrows", cy.edges().filter(function (e) {
      return e.style("target-arrow-shape") === "triangle"; }).length);
    container.setAttribute("data-clipped", clipped);
    container.setAttribute("data-label-overlaps", overlaps);
  }

  // Only these schemes become links; anything else from the data (javascript:, data:…) stays inert.
  function linkable(iri) {
    return /^(https?:|mailto:)/i.test(iri);
  }

  // Pages mark where a chart goes (data-chart, data-example); no inline script is needed,
  // so the Content-Security-Policy can forbid all of it.
  function drawMarkedCharts() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (container) {
      fetchExample(container.getAttribute("data-example")).then(function (data) {
        var rows = data.results.bindings;
        if (container.getAttribute("data-chart") === "timeline") {
          timeline(container, rows);
        } else {
          var about = rows.filter(function (b) { return b.relation.value !== "about"; });
          graph(container, rows, about.length ? about[0].from.value : "");
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawMarkedCharts);
  } else {
    drawMarkedCharts();
  }

  window.ijdpCharts = { bars: bars, timeline: timeline, graph: graph, fetchExample: fetchExample, linkable: linkable };
})();
