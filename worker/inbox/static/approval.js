// Live status of an approval page: poll its status every 1.5 s while it was pending when shown;
// once someone else decides, say who and when, and disable the forms (no reload needed).
(function () {
  "use strict";
  var box = document.getElementById("live-status");
  if (!box || box.dataset.renderedStatus !== "pending") return;
  var url = box.dataset.statusUrl;
  var timer = null;
  function show(status) {
    var p = document.createElement("p");
    p.className = "decided";
    p.setAttribute("data-testid", "decided");
    p.textContent = "This approval was " + status.message + ".";
    box.replaceChildren(p);
    var forms = document.getElementById("decision-forms");
    if (forms) forms.disabled = true;
    var state = document.querySelector("[data-testid=status]");
    if (state) state.textContent = status.status;
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401 || r.status === 404) clearInterval(timer); // signed out, or gone
        return r.ok ? r.json() : null;
      })
      .then(function (status) {
        if (status && status.status !== "pending" && status.message) {
          show(status);
          clearInterval(timer);
        }
      })
      .catch(function () { /* a dropped poll: the next one tries again */ });
  }
  timer = setInterval(poll, 1500);
})();
