// Draw every Plotly figure on the page: each chart element names a JSON data block
// (<script type="application/json">) holding {data, layout}; htmx swaps are drawn as they land.
(function () {
  function draw(root) {
    root.querySelectorAll("[data-plotly]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.plotly);
      if (!source || typeof Plotly === "undefined") return;
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(el, figure.data, figure.layout || {}, {
        responsive: true,
        displaylogo: false,
        // The mode bar styles itself with an inline <style> per chart, which the CSP refuses.
        displayModeBar: false,
      }).then(function () {
        el.dataset.drawn = "1";
        el.setAttribute("data-drawn", "1");
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
