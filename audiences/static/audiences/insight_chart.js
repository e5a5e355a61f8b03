// Audience insight: size over time (line) and the reachable part per linked account (bars)
// with the 50 and 100 thresholds as dashed lines. Values under 50 arrive as null: no point or
// bar is drawn for them (the tables below the charts say "under 50").
(function () {
  "use strict";
  var source = document.getElementById("audience-insight-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var sizes = document.getElementById("audience-size-chart");
  if (sizes && data.sizes.labels.length) {
    new Chart(sizes, {type: "line",
      data: {labels: data.sizes.labels,
             datasets: [{label: data.sizes.label, data: data.sizes.values, borderColor: "#06c755",
                         stepped: true, spanGaps: false}]},
      options: {animation: false, scales: {y: {beginAtZero: true}}}});
  }
  var reach = document.getElementById("audience-reachable-chart");
  if (reach && data.reachable.labels.length) {
    var datasets = [{type: "bar", label: data.reachable.label, data: data.reachable.values,
                     backgroundColor: "#06c755"}];
    var colours = ["#ba2121", "#417690"];
    data.reachable.thresholds.forEach(function (t, i) {
      datasets.push({type: "line", label: t.label,
                     data: data.reachable.labels.map(function () { return t.value; }),
                     borderColor: colours[i % 2], borderDash: [6, 4], pointRadius: 0});
    });
    new Chart(reach, {data: {labels: data.reachable.labels, datasets: datasets},
                      options: {animation: false, scales: {y: {beginAtZero: true}}}});
  }
  document.documentElement.setAttribute("data-insight-charts", "drawn");
})();
