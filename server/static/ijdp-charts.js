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

  // Timeline: events (a date) are marks on the axis, periods (a date and an until) bars from one to the
  // other; derived rows are dashed. Each row has a lane of its own and its label sits after its mark or bar,
  // before it when it would run off the right edge, else on a line of its own below it: no label crosses
  // another. Drawn at the box's width in px, so text is 14 px (years 13 px) on screen.
  function timeline(container, bindings) {
    container.textContent = "";
    function when(date) { return parseInt(date.slice(0, 4), 10) + (parseInt(date.slice(5, 7), 10) - 1) / 12; }
    var starts = bindings.map(function (b) { return when(value(b, "date")); });
    var ends = bindings.map(function (b, i) { return value(b, "until") ? when(value(b, "until")) : starts[i]; });
    var lo = Math.floor(Math.min.apply(null, starts)) - 1, hi = Math.ceil(Math.max.apply(null, ends)) + 1;
    var width = Math.max(container.clientWidth, 480), left = 30, right = 30, axisY = 40, lane = 34;
    var top = axisY + 24, height = top + bindings.length * (lane + 22) + 10;
    var x = function (t) { return left + (width - left - right) * (t - lo) / (hi - lo); };
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img",
                          "aria-label": "Timeline of the India-Japan digital partnership and the semiconductor MoC", id: "timeline-svg" });
    container.appendChild(svg);      // in the page before the labels are placed: they are measured
    svg.appendChild(el("line", { x1: left, y1: axisY, x2: width - right, y2: axisY, stroke: "#1a1a1a", "stroke-width": 2 }));
    var step = Math.max(1, Math.ceil(48 / (x(lo + 1) - x(lo))));     // year labels at least 48 px apart
    for (var year = lo; year <= hi; year++) {
      svg.appendChild(el("line", { x1: x(year), y1: axisY - 5, x2: x(year), y2: axisY + 5, stroke: "#1a1a1a" }));
      if ((year - lo) % step === 0) {
        svg.appendChild(el("text", { x: x(year), y: axisY - 12, "font-size": 13, "text-anchor": "middle", "class": "year",
                                     "data-year": year }, String(year)));
      }
    }
    var y = top;
    bindings.forEach(function (b, i) {
      var derived = value(b, "derived") === "true", dash = derived ? "4 3" : "";
      var x1 = x(starts[i]), x2 = x(ends[i]);
      y += lane / 2;
      // a white halo under the letters keeps them readable where a guide line passes behind them
      var label = el("text", { x: x2 + 8, y: y + 5, "font-size": 14, "class": "label", stroke: "#ffffff", "stroke-width": 4,
                               "paint-order": "stroke" }, value(b, "date") +
                     (value(b, "until") ? " to " + value(b, "until") : "") + ": " + value(b, "label") + (derived ? " (derived)" : ""));
      svg.appendChild(label);
      var length = label.getComputedTextLength(), below = false;
      if (x2 + 8 + length > width - 4) {
        if (x1 - 8 - length >= 4) {           // before the mark or bar
          label.setAttribute("x", x1 - 8);
          label.setAttribute("text-anchor", "end");
        } else {                               // on a line of its own below it
          label.setAttribute("x", Math.max(4, Math.min(x1, width - 4 - length)));
          label.setAttribute("y", y + 5 + 22);
          below = true;
        }
      }
      if (value(b, "until")) {
        [x1, x2].forEach(function (at) {
          svg.appendChild(el("line", { x1: at, y1: axisY, x2: at, y2: y - 8, stroke: "#0b57a4", "stroke-dasharray": "2 3" }));
        });
        svg.appendChild(el("rect", { x: x1, y: y - 8, width: Math.max(2, x2 - x1), height: 16, fill: "#cfe0f5",
                                     stroke: "#0b57a4", "stroke-width": 1.5, "stroke-dasharray": dash, "class": "interval",
                                     "data-from": value(b, "date"), "data-until": value(b, "until") }));
      } else {
        svg.appendChild(el("line", { x1: x1, y1: axisY, x2: x1, y2: y, stroke: "#0b57a4", "stroke-dasharray": dash }));
        svg.appendChild(el("circle", { cx: x1, cy: axisY, r: 6, fill: derived ? "#ffffff" : "#0b57a4", stroke: "#0b57a4",
                                       "stroke-width": 2, "class": "event" }));
      }
      svg.appendChild(label);                 // moved last: drawn over the lines, its halo hiding them
      y += lane / 2 + (below ? 22 : 0);
    });
    height = y + 10;
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    describeTimeline(svg);
  }

  // The timeline's geometry for checks from outside (data-layout): every text's box and size on screen,
  // every bar's box and dates, the x of every labelled year.
  function describeTimeline(svg) {
    var origin = svg.getBoundingClientRect(), scale = svg.getScreenCTM() ? svg.getScreenCTM().a : 1;
    function box(node) {
      var r = node.getBoundingClientRect();
      return [r.left - origin.left, r.top - origin.top, r.right - origin.left, r.bottom - origin.top].map(Math.round);
    }
    var layout = { width: origin.width, height: origin.height, texts: [], bars: [], years: [] };
    Array.prototype.forEach.call(svg.querySelectorAll("text"), function (t) {
      layout.texts.push({ text: t.textContent, box: box(t), font: parseFloat(t.getAttribute("font-size")) * scale });
      if (t.getAttribute("data-year")) layout.years.push({ year: +t.getAttribute("data-year"), x: box(t)[0] / 2 + box(t)[2] / 2 });
    });
    Array.prototype.forEach.call(svg.querySelectorAll("rect.interval"), function (r) {
      layout.bars.push({ from: r.getAttribute("data-from"), until: r.getAttribute("data-until"), box: box(r) });
    });
    svg.setAttribute("data-layout", JSON.stringify(layout));
  }

  // The neighbourhood graph, drawn by Cytoscape.js (served by this server, installed by `make ui`).
  // Every edge of a neighbourhood touches the centre: the centre sits in the middle, its neighbours in two
  // columns beside it, and each edge meets its neighbour on the side facing the centre, so no edge passes
  // behind a node and no node sits on another. Drawn at scale 1 (node text 14 px, edge labels 12 px) in a box
  // as tall as the drawing; only a narrow window scales it down. Without the library the table stands alone.
  var NODE_FONT = 14, EDGE_FONT = 12, ROW_GAP = 18, PAD = 24, LABEL_ROOM = 190;
  function graph(container, bindings, centre, base) {
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
      layout: { name: "preset" },
      style: [
        { selector: "node", style: { "shape": "round-rectangle", "background-color": "#e8f0fb", "border-color": "#0b57a4",
          "border-width": 1, "label": "data(label)", "text-wrap": "wrap", "text-max-width": 180, "font-size": NODE_FONT,
          "text-valign": "center", "text-halign": "center", "width": "label", "height": "label", "padding": 8,
          "color": "#1a1a1a" } },
        { selector: "node[centre = 1]", style: { "background-color": "#fff1de", "border-color": "#b35c00", "border-width": 2,
          "text-max-width": 220 } },
        { selector: "edge", style: { "curve-style": "straight", "width": 1.2, "line-color": "#7d8896",
          "target-arrow-shape": "triangle", "target-arrow-color": "#7d8896", "arrow-scale": 1.1,
          "label": "data(label)", "font-size": EDGE_FONT, "color": "#333333", "text-rotation": "none",
          "text-background-color": "#ffffff", "text-background-opacity": 1, "text-background-padding": 2 } }
      ]
    });
    placeInColumns(cy, container, centre);
    cy.on("tap", "node", function (event) {
      var href = localHref(event.target.id(), base);
      if (href) window.location.href = href;      // javascript:, data:… lead nowhere
    });
    describeLayout(container, cy);
  }

  function placeInColumns(cy, container, centre) {
    var middle = cy.getElementById(centre);
    var others = cy.nodes().filter(function (n) { return n.id() !== centre; }).toArray();
    var half = Math.ceil(others.length / 2), columns = [others.slice(0, half), others.slice(half)];
    var width = container.clientWidth;
    var widest = Math.max.apply(null, others.map(function (n) { return n.outerWidth(); }).concat([0]));
    var inner = Math.max(middle.outerWidth() / 2 + LABEL_ROOM, width / 2 - PAD - widest);
    middle.position({ x: 0, y: 0 });
    columns.forEach(function (column, side) {
      var sign = side ? 1 : -1;
      var y = -(column.reduce(function (sum, n) { return sum + n.outerHeight() + ROW_GAP; }, 0) - ROW_GAP) / 2;
      column.forEach(function (n) {
        n.position({ x: sign * (inner + n.outerWidth() / 2), y: y + n.outerHeight() / 2 });
        y += n.outerHeight() + ROW_GAP;
        // the edge meets this node in the middle of its side that faces the centre
        n.connectedEdges().forEach(function (e) {
          e.style(e.source().same(n) ? "source-endpoint" : "target-endpoint", (-sign * 50) + "% 0%");
        });
      });
    });
    var box = cy.elements().boundingBox();
    container.style.height = Math.ceil(box.h + 2 * PAD) + "px";
    cy.resize();
    var zoom = Math.min(1, (width - 2 * PAD) / box.w);
    cy.zoom(zoom);
    cy.pan({ x: width / 2 - zoom * (box.x1 + box.w / 2), y: container.clientHeight / 2 - zoom * (box.y1 + box.h / 2) });
  }

  // A link for an IRI: the publication's own (under the served base IRI) open their page on this server,
  // other http(s) and mailto IRIs are links as they are, anything else (javascript:, data:…) none.
  function localHref(iri, base) {
    if (base && iri.indexOf(base) === 0 && !/^[\/\\]/.test(iri.slice(base.length))) return "/" + iri.slice(base.length);
    return linkable(iri) ? iri : null;
  }

  // What was drawn, as attributes the tests (and curious readers) can check: counts, arrowheads, anything
  // outside the box, overlapping edge labels, and in data-layout every node's and edge's rendered geometry
  // (boxes, the edge's ends, the text's size on screen in px) for checks from outside.
  function describeLayout(container, cy) {
    var width = container.clientWidth, height = container.clientHeight, clipped = 0, overlaps = 0, zoom = cy.zoom();
    function rounded(box) { return [box.x1, box.y1, box.x2, box.y2].map(function (v) { return Math.round(v * 10) / 10; }); }
    function point(p) { return [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10]; }
    var nodes = cy.nodes().map(function (n) {
      var box = n.renderedBoundingBox({ includeLabels: true });
      if (box.x1 < 0 || box.y1 < 0 || box.x2 > width || box.y2 > height) clipped += 1;
      return { id: n.id(), box: rounded(box), font: parseFloat(n.style("font-size")) * zoom };
    });
    var edges = cy.edges().map(function (e) {
      return { id: e.id(), source: e.source().id(), target: e.target().id(), text: e.data("label"),
               ends: [point(e.renderedSourceEndpoint()), point(e.renderedTargetEndpoint())],
               label: rounded(e.renderedBoundingBox({ includeNodes: false, includeEdges: false, includeLabels: true })),
               font: parseFloat(e.style("font-size")) * zoom };
    });
    for (var i = 0; i < edges.length; i++) {
      for (var j = i + 1; j < edges.length; j++) {
        var a = edges[i].label, b = edges[j].label;
        if (a[2] > a[0] && b[2] > b[0] && a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]) overlaps += 1;
      }
    }
    container.setAttribute("data-nodes", cy.nodes().length);
    container.setAttribute("data-edges", cy.edges().length);
    container.setAttribute("data-arrows", cy.edges().filter(function (e) {
      return e.style("target-arrow-shape") === "triangle"; }).length);
    container.setAttribute("data-clipped", clipped);
    container.setAttribute("data-label-overlaps", overlaps);
    container.setAttribute("data-layout", JSON.stringify({ width: width, height: height, nodes: nodes, edges: edges }));
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
          graph(container, rows, about.length ? about[0].from.value : "", container.getAttribute("data-base"));
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawMarkedCharts);
  } else {
    drawMarkedCharts();
  }

  window.ijdpCharts = { bars: bars, timeline: timeline, graph: graph, fetchExample: fetchExample, linkable: linkable,
                        localHref: localHref };
})();
