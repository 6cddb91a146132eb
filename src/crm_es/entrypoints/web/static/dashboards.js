// The dashboards' charts: each one a plotly.js figure drawn from the JSON block the page
// embeds beside it (the same numbers as the table under it, which needs no script). One bar
// trace per series; its meta (group, measure, currency) and customdata (the categories' raw
// keys) say which of the report's numbers it holds. And "save this view": POST /dashboards,
// as any client of the JSON API sends it (session cookie, X-CSRF-Token, Idempotency-Key).
"use strict";

(function () {
  function figure(spec) {
    const traces = spec.series.map((s) => ({
      type: "bar", name: s.name, x: spec.x, y: s.y, customdata: spec.x_keys,
      meta: {group: s.group, measure: s.measure, currency: s.currency},
      hovertemplate: "%{x}: %{y}<extra>%{fullData.name}</extra>",
    }));
    const layout = {
      barmode: "group", height: 340, margin: {t: 10, r: 10, b: 70, l: 70},
      xaxis: {title: {text: spec.x_label}, type: "category", automargin: true},
      yaxis: {title: {text: spec.y_label}, rangemode: "tozero", automargin: true},
      legend: {orientation: "h", y: -0.3}, showlegend: traces.length > 1,
    };
    return {traces, layout};
  }

  function drawAll() {
    if (!window.Plotly) return;  // no chart library: the tables hold the numbers
    const plots = Array.from(document.querySelectorAll(".plot[data-chart-json]"));
    return Promise.all(plots.map((plot) => {
      const spec = JSON.parse(document.getElementById(plot.dataset.chartJson).textContent);
      const {traces, layout} = figure(spec);
      return window.Plotly.newPlot(plot, traces, layout, {responsive: true, displaylogo: false});
    })).then(() => { document.body.dataset.chartsDrawn = "true"; });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  async function save(form) {
    const name = String(new FormData(form).get("name") || "").trim();
    const result = form.querySelector(".result");
    if (!name) return;
    const reports = JSON.parse(document.getElementById("dashboard-reports").textContent);
    const words = JSON.parse(document.getElementById("dashboards-words").textContent);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;  // one click, one dashboard
    const response = await fetch("/dashboards", {
      method: "POST", credentials: "same-origin", body: JSON.stringify({name, reports}),
      headers: {"Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": newKey(),
                "X-CSRF-Token": document.body.dataset.csrf || ""},
    });
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    button.disabled = false;
    if (response.ok) {
      // The saved dashboard's page, read once the read side has what was just written.
      window.location.assign("/app/dashboards/" + answer.id + "?after=" + answer.position);
      return;
    }
    const why = answer && (answer.title || answer.detail) ? [answer.title, answer.detail].filter(Boolean).join(": ")
      : "HTTP " + response.status;
    result.textContent = words.save_failed + " " + why;
  }

  document.addEventListener("submit", (event) => {
    if (event.target.id !== "save-dashboard") return;
    event.preventDefault();
    save(event.target);
  });

  document.addEventListener("change", (event) => {
    // The pipeline and grouping choosers show their dashboard at once (the form keeps the dates).
    if (event.target.matches && event.target.matches("#time-travel select")) event.target.form.submit();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
