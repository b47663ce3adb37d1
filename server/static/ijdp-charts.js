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
  function graph(container, bindings, centre) {
    container.textContent = "";
    var nodes = {}, order = [];
    function add(iri, label) { if (!nodes[iri]) { nodes[iri] = { iri: iri, label: label }; order.push(iri); } }
    bindings.forEach(function (b) { add(value(b, "from"), value(b, "fromLabel")); add(value(b, "to"), value(b, "toLabel")); });
    var size = 900, c = size / 2, radius = 330;
    var others = order.filter(function (iri) { return iri !== centre; });
    var pos = {}; pos[centre] = [c, c];
    others.forEach(function (iri, i) {
      var a = 2 * Math.PI * i / others.length - Math.PI / 2;
      pos[iri] = [c + radius * Math.cos(a), c + radius * Math.sin(a)];
    });
    var svg = el("svg", { viewBox: "0 0 " + size + " " + size, width: "100%", role: "img", id: "graph-svg",
                          "aria-label": "The MoC and the things it is linked to" });
    bindings.forEach(function (b) {
      var p = pos[value(b, "from")], q = pos[value(b, "to")];
      svg.appendChild(el("line", { x1: p[0], y1: p[1], x2: q[0], y2: q[1], stroke: "#9aa4b1" }));
      svg.appendChild(el("text", { x: (p[0] + q[0]) / 2, y: (p[1] + q[1]) / 2, "font-size": 11, fill: "#4a4a4a", "text-anchor": "middle" },
                         value(b, "relation")));
    });
    order.forEach(function (iri) {
      var p = pos[iri], link = el("a", { href: iri.indexOf(location.origin) === 0 ? iri.slice(location.origin.length)
                                                : linkable(iri) ? iri : "#" });
      link.appendChild(el("circle", { cx: p[0], cy: p[1], r: iri === centre ? 14 : 9, fill: iri === centre ? "#b35c00" : "#0b57a4", "class": "node" }));
      link.appendChild(el("text", { x: p[0], y: p[1] + 26, "font-size": 12, "text-anchor": "middle" }, nodes[iri].label.slice(0, 48)));
      svg.appendChild(link);
    });
    container.appendChild(svg);
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
