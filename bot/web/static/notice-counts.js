/* A notice's page: its delivery counts, refreshed every 5 seconds from the JSON at
   #counts[data-url] (a file, not inline script: the Content-Security-Policy allows no inline). */
(function () {
  var box = document.getElementById("counts");
  if (!box) return;
  function cell(text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
  function refresh() {
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) {
        document.querySelectorAll("[data-k]").forEach(function (el) {
          var k = el.dataset.k;
          el.textContent = (k === "recipients" && d.status !== "sent") ? "—" : d[k];
        });
        document.getElementById("failed-tile").classList.toggle("bad", d.failed > 0);
        document.getElementById("status").textContent = d.status_name;
        var body = document.getElementById("reasons");
        while (body.firstChild) body.removeChild(body.firstChild);
        d.reasons.forEach(function (pair) {
          var tr = document.createElement("tr");
          tr.appendChild(cell(pair[0])); tr.appendChild(cell(pair[1], "num"));
          body.appendChild(tr);
        });
        document.getElementById("no-reasons").hidden = d.reasons.length > 0;
      })
      .catch(function () {});
  }
  setInterval(refresh, 5000);
})();
