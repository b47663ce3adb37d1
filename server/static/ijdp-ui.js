// The query editor: YASGUI (served by this server), with the example questions,
// the publication's prefixes, permalinks (the query in the URL) and a chart view.
// Without JavaScript the plain form below does the same work.
(function () {
  "use strict";
  if (typeof Yasgui === "undefined") return;
  // YASR's table writes an IRI into href='…' and the cell as it comes: an answer binding javascript:…
  // (or an IRI with a quote in it) would be a live link or a new attribute. Here every IRI is escaped
  // and only http(s) and mailto ones are links, the rest text. Without the table to patch (another
  // YASGUI), the editor stays hidden and the plain form, rendered by the server, does the work.
  var Table = Yasgui.Yasr && Yasgui.Yasr.plugins && Yasgui.Yasr.plugins.table;
  if (!Table || typeof Table.prototype.getUriLinkFromBinding !== "function") return;
  var config = JSON.parse(document.getElementById("ui-config").textContent);
  // The cell shows the IRI's label (looked up after each answer), else its prefixed name (the query's
  // prefixes, then the publication's), else the IRI; the full IRI is always on hover. The publication's
  // IRIs (under the served base IRI) link to their pages on this server.
  var labels = {};
  Table.prototype.getUriLinkFromBinding = function (binding, prefixes) {
    var iri = binding.value, shown = iri, named = false;
    Object.keys(prefixes || {}).some(function (label) {
      if (iri.indexOf(prefixes[label]) !== 0) return false;
      shown = label + ":" + iri.slice(prefixes[label].length);
      named = true;
      return true;
    });
    if (Object.prototype.hasOwnProperty.call(labels, iri)) { shown = labels[iri]; named = true; }
    var text = escapeHtml(shown), title = " title='" + escapeHtml(iri) + "'";
    var href = window.ijdpCharts.localHref(iri, config.base);
    var cell = href
      ? "<a class='iri' target='_blank' rel='noopener noreferrer' href='" + escapeHtml(href) + "'" + title + ">" + text + "</a>"
      : "<span class='iri'" + title + ">" + text + "</span>";
    return named || this.persistentConfig.compact ? cell : "&lt;" + cell + "&gt;";
  };

  // One query per answer for the labels of the IRIs it shows (at most MAX_LABELLED of them; IRIs that
  // cannot be written in a query are left out), then the table is drawn again with them.
  var MAX_LABELLED = 300;
  function lookUpLabels(yasr) {
    var results = yasr.results, wanted = [], seen = {};
    if (!results || !results.getBindings || !results.getBindings()) return;
    results.getBindings().some(function (row) {
      Object.keys(row).forEach(function (name) {
        var term = row[name];
        if (term && term.type === "uri" && !seen[term.value] && !labels.hasOwnProperty(term.value) &&
            /^[^<>"{}|^`\\\u0000-\u0020]+$/.test(term.value)) {
          seen[term.value] = true;
          wanted.push(term.value);
        }
      });
      return wanted.length >= MAX_LABELLED;
    });
    if (!wanted.length) return;
    var query = "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" +
      "SELECT ?iri ?label ?rank WHERE {\n  VALUES ?iri { " + wanted.slice(0, MAX_LABELLED).map(function (iri) {
        return "<" + iri + ">"; }).join(" ") + " }\n" +
      "  { ?iri skos:prefLabel ?label BIND (0 AS ?kind) } UNION { ?iri rdfs:label ?label BIND (2 AS ?kind) }\n" +
      "  BIND (?kind + IF(lang(?label) = \"\" || langMatches(lang(?label), \"en\"), 0, 1) AS ?rank)\n} ORDER BY ?iri ?rank";
    fetch("/sparql", { method: "POST", body: query,
                       headers: { "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || yasr.results !== results) return;       // another answer came meanwhile
        var found = false;
        data.results.bindings.forEach(function (b) {
          if (!labels.hasOwnProperty(b.iri.value)) { labels[b.iri.value] = b.label.value; found = true; }
        });
        if (found) yasr.draw();
      })
      .catch(function () { /* the table keeps its prefixed names */ });
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  var editor = document.getElementById("editor");
  var plain = document.getElementById("plain-form");
  editor.hidden = false;
  plain.hidden = true;

  var params = new URLSearchParams(window.location.search);
  var byName = {};
  config.examples.forEach(function (e) { byName[e.name] = e; });
  var start = params.get("query") || (byName[params.get("example")] || config.examples[0] || {}).text || "";

  // The server's errors are problem+json: show the problem (what and where), not the raw JSON.
  function problemRenderer(error) {
    var text = error && (error.text || (error.response && error.response.text));
    var problem = null;
    try { problem = JSON.parse(text); } catch (e) { problem = null; }
    if (!problem || !problem.detail) return Promise.resolve(undefined);
    var box = document.createElement("div");
    box.className = "query-problem";
    box.setAttribute("role", "alert");
    var title = document.createElement("strong");
    title.textContent = (problem.title || "Error") + " (" + problem.status + ")";
    box.appendChild(title);
    problem.detail.split("\n").forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      box.appendChild(p);
    });
    if (problem.line) {
      var where = document.createElement("p");
      where.className = "muted";
      where.textContent = "Line " + problem.line + ", column " + problem.column + " of the query.";
      box.appendChild(where);
    }
    return Promise.resolve(box);
  }
  if (Yasgui.Yasr && Yasgui.Yasr.defaults) {
    Yasgui.Yasr.defaults.errorRenderers = [problemRenderer].concat(Yasgui.Yasr.defaults.errorRenderers || []);
  }

  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: "/sparql", method: "POST",
                     acceptHeaderSelect: "application/sparql-results+json",
                     acceptHeaderGraph: "text/turtle" },
    copyEndpointOnNewTab: false,
    persistenceId: null,          // the URL is the state: permalinks carry the query
    populateFromUrl: true,
    endpointCatalogueOptions: { getData: function () { return []; } },
    yasr: { prefixes: config.prefixes },   // names for IRIs when the query declares no prefix of its own
    yasqe: { autocompleters: ["variables"] }   // no prefix.cc or LOV lookups: nothing leaves this server
  });
  var tab = yasgui.getTab();
  if (start && !window.location.hash) tab.setQuery(start);
  if (byName[params.get("example")]) document.getElementById("example-picker").value = params.get("example");

  function syncUrl(query) {
    var url = new URL(window.location.href);
    url.searchParams.set("query", query);
    url.searchParams.delete("example");
    url.searchParams.delete("run");
    window.history.replaceState(null, "", url.toString());
  }

  document.getElementById("example-picker").addEventListener("change", function (event) {
    var example = byName[event.target.value];
    if (!example) return;
    yasgui.getTab().setQuery(example.text);
    yasgui.getTab().query();
  });
  document.getElementById("add-prefixes").addEventListener("click", function () {
    yasgui.getTab().getYasqe().addPrefixes(config.prefixes);
  });
  yasgui.on("query", function (instance, t) { syncUrl(t.getQuery()); });
  // YASGUI emits queryResponse before it hands the response to YASR, so the results
  // are read once the current event is over, when they are this query's and not the last one's.
  yasgui.on("queryResponse", function (instance, t) {
    window.setTimeout(function () {
      var yasr = t.getYasr();
      var results = yasr && yasr.results;
      if (!results || !results.getBindings) return;
      window.ijdpCharts.bars(document.getElementById("chart"), results.getVariables(), results.getBindings());
      lookUpLabels(yasr);
    }, 0);
  });
  if (params.get("run") || params.get("query")) tab.query();
})();
