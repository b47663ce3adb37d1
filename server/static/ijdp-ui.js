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
  Table.prototype.getUriLinkFromBinding = function (binding, prefixes) {
    var iri = binding.value, shown = iri, prefixed = false;
    Object.keys(prefixes || {}).some(function (label) {
      if (iri.indexOf(prefixes[label]) !== 0) return false;
      shown = label + ":" + iri.slice(prefixes[label].length);
      prefixed = true;
      return true;
    });
    var text = escapeHtml(shown);
    var cell = window.ijdpCharts.linkable(iri)
      ? "<a class='iri' target='_blank' rel='noopener noreferrer' href='" + escapeHtml(iri) + "'>" + text + "</a>"
      : "<span class='iri'>" + text + "</span>";
    return prefixed || this.persistentConfig.compact ? cell : "&lt;" + cell + "&gt;";
  };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  var config = JSON.parse(document.getElementById("ui-config").textContent);
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
    }, 0);
  });
  if (params.get("run") || params.get("query")) tab.query();
})();
