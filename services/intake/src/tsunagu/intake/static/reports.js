// Draws the reports page's charts from its JSON block with the vendored Chart.js.
// The figures are also in the tables beside each chart; without script nothing is lost.
(function () {
  "use strict";
  var source = document.getElementById("report-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var charts = [];
  // Colours that stay apart in greyscale print and for common colour-vision differences.
  var STATUS_COLOURS = {
    suggested: "#bdbdbd", pending: "#f0a202", accepted: "#0072b2", declined: "#d55e00",
    in_progress: "#56b4e9", closed: "#009e73", escalated: "#cc79a7", withdrawn: "#666666"
  };
  Chart.defaults.font.family = '"Noto Sans CJK JP", "Noto Sans JP", system-ui, sans-serif';
  Chart.defaults.color = "#1a1a1a";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) charts.push(new Chart(canvas, config));
  }
  var integer = { beginAtZero: true, ticks: { precision: 0 } };

  make("chart-per-event", {
    type: "bar",
    data: {
      labels: data.perEvent.labels,
      datasets: [
        { label: data.perEvent.newLabel, data: data.perEvent["new"], backgroundColor: "#0072b2" },
        { label: data.perEvent.returningLabel, data: data.perEvent.returning, backgroundColor: "#e69f00" }
      ]
    },
    options: { scales: { x: { stacked: true }, y: Object.assign({ stacked: true }, integer) } }
  });
  make("chart-concerns", {
    type: "bar",
    data: {
      labels: data.concerns.labels,
      datasets: [{ label: data.concerns.label, data: data.concerns.values, backgroundColor: "#0072b2" }]
    },
    options: {
      indexAxis: "y",
      scales: { x: integer, y: { ticks: { autoSkip: false } } },
      plugins: { legend: { display: false } }
    }
  });
  make("chart-outcomes", {
    type: "bar",
    data: {
      labels: data.outcomes.labels,
      datasets: data.outcomes.series.map(function (s) {
        return { label: s.label, data: s.values, backgroundColor: STATUS_COLOURS[s.status] || "#777" };
      })
    },
    options: {
      indexAxis: "y",
      scales: {
        x: Object.assign({ stacked: true }, integer),
        y: { stacked: true, ticks: { autoSkip: false } }
      }
    }
  });

  // Paper is narrower than the screen: redraw at the printed size, and back afterwards.
  window.addEventListener("beforeprint", function () {
    charts.forEach(function (c) { c.resize(640, c.canvas.parentNode.clientHeight); });
  });
  window.addEventListener("afterprint", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
