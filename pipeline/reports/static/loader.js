/* Page glue: unpack the libraries this page carries (gzip + base64, so the page opens alone,
   offline, also when mailed), then draw the Plotly figures and turn the tables into DataTables.
   No request leaves the page. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("page-config").textContent);

  function unpack(id) {
    var bin = atob(document.getElementById(id).textContent.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }

  function inject(tag, text) {
    var el = document.createElement(tag);
    el.textContent = text;
    document.head.appendChild(el);
  }

  function drawFigures() {
    var nodes = document.querySelectorAll("script.figure-data");
    for (var i = 0; i < nodes.length; i++) {
      var fig = JSON.parse(nodes[i].textContent);
      var div = document.getElementById(nodes[i].getAttribute("data-for"));
      var opts = Object.assign({}, config.plotly, {toImageButtonOptions: {format: "png", filename: div.id}});
      window.Plotly.newPlot(div, fig.data, fig.layout, opts);
      sumInto(div, fig.layout.meta);
    }
  }

  // a chart whose layout.meta names a value element keeps the total of one trace there (the
  // rekenfactor slider restyles the budget-effect trace; the card shows its sum)
  function sumInto(div, meta) {
    var target = meta && meta.sum_into && document.getElementById(meta.sum_into);
    if (!target) return;
    var money = new Intl.NumberFormat(config.plotly.locale === "en" ? "en-GB" : "nl-NL",
                                      {style: "currency", currency: "EUR", maximumFractionDigits: 0});
    div.on("plotly_restyle", function () {
      var y = div.data[meta.trace].y || [];
      var total = 0;
      for (var k = 0; k < y.length; k++) total += Number(y[k]) || 0;
      target.textContent = money.format(total);
    });
  }

  function initTables() {
    var DataTable = window.ZBDataTables.DataTable;
    var tables = [];
    document.querySelectorAll("table.dt").forEach(function (table) {
      var rows = table.tBodies[0].rows.length;
      tables.push(new DataTable(table, {
        language: config.datatables,
        paging: rows > 10,
        searching: rows > 5,
        info: rows > 5,
        lengthMenu: [10, 25, 50, 100],
        autoWidth: false
      }));
    });
    // print every row of every table (A4 landscape), and go back to pages afterwards
    window.addEventListener("beforeprint", function () { tables.forEach(function (t) { t.page.len(-1).draw(); }); });
    window.addEventListener("afterprint", function () { tables.forEach(function (t) { t.page.len(t.init().pageLength || 10).draw(false); }); });
    window.zbTables = tables;
  }

  Promise.all([unpack("lib-plotly"), unpack("lib-datatables"), unpack("lib-datatables-css")])
    .then(function (libs) {
      inject("script", libs[0]);
      inject("script", libs[1]);
      inject("style", libs[2]);
      window.Plotly.register(config.plotly_locale);
      drawFigures();
      initTables();
      var loading = document.getElementById("loading");
      if (loading) loading.remove();
      document.body.setAttribute("data-ready", "1");
    })
    .catch(function (err) {
      var loading = document.getElementById("loading");
      if (loading) loading.textContent = config.failed + " (" + err + ")";
      throw err;
    });
})();
