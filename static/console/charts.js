/* Charts of stored meter values, drawn with the vendored uPlot (static/vendor/uplot, no CDN).
 *
 * <div class="console-chart" data-chart="ID"> is drawn from the JSON of <script id="ID"> (Django's
 * json_script): {"series": {"energy": [[epoch seconds, value], ...], "power": [...], "soc": [...]}}.
 * Each series present gets a small chart of its own; a live fragment swapped in is drawn again.
 */
(function () {
  "use strict";

  var KINDS = {
    energy: {label: "Energy delivered", unit: "kWh", scale: 0.001, colour: "#1565c0", fill: "rgba(21,101,192,.08)"},
    power: {label: "Power", unit: "kW", scale: 0.001, colour: "#e65100", fill: "rgba(230,81,0,.08)"},
    soc: {label: "State of charge", unit: "%", scale: 1, colour: "#2e7d32", fill: "rgba(46,125,50,.08)"}
  };

  function draw(container) {
    var source = document.getElementById(container.getAttribute("data-chart"));
    if (!source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    container.innerHTML = "";
    var drawn = 0;
    Object.keys(KINDS).forEach(function (name) {
      var points = (data.series || {})[name];
      if (!points || !points.length) { return; }
      var kind = KINDS[name];
      var xs = points.map(function (p) { return p[0]; });
      var ys = points.map(function (p) { return p[1] === null ? null : p[1] * kind.scale; });
      var box = document.createElement("div");
      box.className = "console-chart-one";
      box.setAttribute("data-series", name);
      box.setAttribute("data-points", String(points.length));
      container.appendChild(box);
      var width = Math.max(300, (container.clientWidth || 800) - 10);
      new uPlot({
        width: width,
        height: 180,
        title: kind.label + " (" + kind.unit + ")",
        scales: {x: {time: true}},
        series: [
          {},
          {label: kind.label, stroke: kind.colour, fill: kind.fill, width: 2, spanGaps: false,
           value: function (u, v) { return v === null ? "—" : v.toFixed(kind.unit === "%" ? 0 : 2) + " " + kind.unit; }}
        ],
        axes: [{}, {size: 60, values: function (u, vals) { return vals.map(function (v) { return v + " " + kind.unit; }); }}]
      }, [xs, ys], box);
      drawn += 1;
    });
    if (!drawn) {
      container.innerHTML = '<p class="console-chart-empty">No meter values to draw yet.</p>';
    }
    container.setAttribute("data-rendered", String(drawn));
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".console-chart[data-chart]:not([data-rendered])"), draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("console:updated", drawAll);
})();
