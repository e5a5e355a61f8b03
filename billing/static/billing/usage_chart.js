// Daily usage (bars) and the month's running total against the free quota (lines).
(function () {
  "use strict";
  var source = document.getElementById("billing-usage-data");
  var canvas = document.getElementById("billing-usage-chart");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var datasets = [
    {type: "bar", label: data.labelDaily, data: data.daily, backgroundColor: "#06c755"},
    {type: "line", label: data.labelCumulative, data: data.cumulative, borderColor: "#417690",
     pointRadius: 0}
  ];
  if (data.quota !== null) {
    datasets.push({type: "line", label: data.labelQuota,
                   data: data.labels.map(function () { return data.quota; }),
                   borderColor: "#ba2121", borderDash: [6, 4], pointRadius: 0});
  }
  new Chart(canvas, {data: {labels: data.labels, datasets: datasets},
                     options: {animation: false, scales: {y: {beginAtZero: true}}}});
})();
