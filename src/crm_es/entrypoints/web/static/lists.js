// The lists' script: saves the list's current filters as a view (POST /views) and removes a
// view (DELETE /views/{id}, with If-Match), through console.js's client of the JSON API:
// session cookie, X-CSRF-Token, Idempotency-Key; a refusal's problem+json is shown.
"use strict";

(function () {
  const api = () => window.crmConsole;
  const words = () => JSON.parse(document.getElementById("lists-words").textContent);

  function reloadAfter(position) {
    // The page again once the read side has the change (?after=), without the paging.
    const url = new URL(window.location.href);
    url.searchParams.delete("cursor");
    url.searchParams.set("after", position);
    window.location.assign(url.toString());
  }

  async function saveView(form) {
    const table = document.getElementById("list");
    // Only the filters a view keeps (the page names them: not the contacts' search text).
    const kept = JSON.parse(form.dataset.kept || "[]");
    const filters = Object.fromEntries(Object.entries(JSON.parse(table.dataset.filters || "{}"))
      .filter(([name]) => kept.includes(name)));
    const body = {list: form.dataset.list, name: form.elements.name.value.trim(), filters};
    const result = form.querySelector(".result");
    const sent = await api().send("POST", "/views", body);
    if (sent.ok) {
      result.textContent = words().view_saved;
      reloadAfter(sent.answer.position);
    } else {
      api().say(words().view_failed + " " + api().problemText(sent.answer, sent.status));
    }
  }

  async function removeView(item) {
    const sent = await api().send("DELETE", "/views/" + item.dataset.viewId, undefined, item.dataset.version);
    if (sent.ok) reloadAfter(sent.answer.position);
    else api().say(api().problemText(sent.answer, sent.status));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("save-view");
    if (form) form.addEventListener("submit", function (event) { event.preventDefault(); saveView(form); });
    document.querySelectorAll("#views .remove-view").forEach(function (button) {
      button.addEventListener("click", function () { removeView(button.closest(".view")); });
    });
  });
})();
