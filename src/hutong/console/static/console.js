// The console's few behaviours: draw each chart from the JSON beside it (Plotly, served
// locally), and keep a live session's counters current from its server-sent events.
"use strict";

function drawCharts(root) {
  if (typeof Plotly === "undefined") return;
  (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source) return;
    var traces = JSON.parse(source.textContent);
    var layout = {
      margin: { l: 48, r: 48, t: 28, b: 40 },
      title: { text: el.dataset.title || "", font: { size: 13 } },
      barmode: "group",
      showlegend: traces.length > 1,
      yaxis: { automargin: true },
    };
    if (el.dataset.y2) {
      layout.yaxis2 = { overlaying: "y", side: "right", title: { text: el.dataset.y2 } };
    }
    Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true });
  });
}

function formatCounter(el, value) {
  if (el.dataset.money) {
    el.textContent = "¥" + (value / 100).toLocaleString(undefined, {
      minimumFractionDigits: 2, maximumFractionDigits: 2 });
  } else {
    el.textContent = Number(value).toLocaleString();
  }
}

function followSession() {
  var status = document.getElementById("live-status");
  if (!status || typeof EventSource === "undefined") return;
  var source = new EventSource(status.dataset.stream);
  source.addEventListener("counters", function (event) {
    var counters = JSON.parse(event.data);
    document.querySelectorAll("[data-counter]").forEach(function (el) {
      if (el.dataset.counter in counters) formatCounter(el, counters[el.dataset.counter]);
    });
    status.dataset.applied = counters.applied;
  });
  window.addEventListener("pagehide", function () { source.close(); });
}

document.addEventListener("DOMContentLoaded", function () {
  drawCharts();
  followSession();
});

// htmx swaps part of a page (the attribution table when another dimension is chosen): draw
// the charts that came with it
document.addEventListener("htmx:afterSettle", function () {
  drawCharts(document);
});
