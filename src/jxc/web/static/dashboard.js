/* Dashboard charts: reads the figures embedded in #dash-data (amounts as decimal strings)
   and draws them with ECharts. Display only: nothing drawn here is ever sent back. */
(function () {
  "use strict";

  function css(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (v && v.trim()) || fallback;
  }

  function money(v) {
    return Number(v).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function short(v) {
    var n = Math.abs(v);
    if (n >= 1e8) return (v / 1e8).toFixed(1).replace(/\.0$/, "") + (isZh ? "亿" : "00M");
    if (n >= 1e4) return (v / 1e4).toFixed(1).replace(/\.0$/, "") + (isZh ? "万" : "0k");
    return String(Math.round(v));
  }

  var isZh = (document.documentElement.lang || "").indexOf("zh") === 0;
  var charts = [];

  function make(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return;
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    charts.push(chart);
  }

  function draw() {
    var node = document.getElementById("dash-data");
    if (!node) return;
    var data = JSON.parse(node.textContent || "{}");
    var brand = css("--brand", "#1f63e0");
    var grey = css("--g-500", "#6f7a8a");
    var line = css("--g-200", "#e2e7ee");
    var text = { color: grey, fontSize: 12 };
    var axis = { axisLine: { lineStyle: { color: line } }, axisTick: { show: false }, axisLabel: text };
    var split = { splitLine: { lineStyle: { color: line, type: "dashed" } } };
    var tip = { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: money };
    var label = data.labels || {};

    if (data.daily) {
      make("chart-daily", {
        grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        tooltip: tip,
        xAxis: Object.assign({ type: "category", data: data.daily.days.map(function (d) { return d.slice(5); }) }, axis),
        yAxis: Object.assign({ type: "value", axisLabel: Object.assign({ formatter: short }, text) }, split),
        series: [{
          name: label.sales, type: "bar", barMaxWidth: 18, itemStyle: { color: brand, borderRadius: [3, 3, 0, 0] },
          data: data.daily.amounts.map(Number)
        }]
      });
    }
    if (data.top) {
      var names = data.top.names.slice().reverse();
      make("chart-top", {
        grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
        tooltip: tip,
        xAxis: Object.assign({ type: "value", axisLabel: Object.assign({ formatter: short }, text) }, split),
        yAxis: Object.assign({ type: "category", data: names }, axis, {
          axisLabel: Object.assign({ width: 110, overflow: "truncate" }, text)
        }),
        series: [{
          name: label.sales, type: "bar", barMaxWidth: 16,
          itemStyle: { color: brand, borderRadius: [0, 3, 3, 0] },
          data: data.top.amounts.slice().reverse().map(Number)
        }]
      });
    }
    if (data.aging) {
      var colours = ["#12b76a", "#fdb022", "#f79009", "#ef6820", "#d92d20"];
      make("chart-aging", {
        grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        tooltip: tip,
        xAxis: Object.assign({ type: "category", data: data.aging.buckets }, axis),
        yAxis: Object.assign({ type: "value", axisLabel: Object.assign({ formatter: short }, text) }, split),
        series: [{
          name: label.amount, type: "bar", barMaxWidth: 42,
          data: data.aging.amounts.map(function (v, i) {
            return { value: Number(v), itemStyle: { color: colours[i % colours.length], borderRadius: [3, 3, 0, 0] } };
          }),
          label: { show: true, position: "top", color: grey, fontSize: 11, formatter: function (p) { return p.value ? short(p.value) : ""; } }
        }]
      });
    }
    if (data.warehouses) {
      make("chart-warehouse", {
        tooltip: { trigger: "item", valueFormatter: money },
        legend: { bottom: 0, textStyle: text, icon: "circle", itemWidth: 8, itemHeight: 8 },
        color: [brand, "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#667085"],
        series: [{
          name: label.amount, type: "pie", radius: ["45%", "72%"], center: ["50%", "45%"],
          itemStyle: { borderColor: "#fff", borderWidth: 2 },
          label: { formatter: "{b}\n{d}%", color: grey, fontSize: 12 },
          data: data.warehouses.map(function (w) { return { name: w.name, value: Number(w.value) }; })
        }]
      });
    }
  }

  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 120);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
