// The auditors' pages. Their forms are posted by the browser itself, their `csrf` field
// holding the session's token (guard.form_token); a file too large for the service is
// refused here first. A running verification's page fills its progress bar from
// GET /app/audit/verifications/{id}/progress, then shows the result (the page drawn again).
"use strict";

(function () {
  const POLL_MS = 250;

  const FORM_ROOM = 16 * 1024;  // the form's own parts around the file, within the service's cap

  function say(text) {
    const box = document.getElementById("conflict");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  const words = () => JSON.parse(document.getElementById("audit-words").textContent);

  function tooLarge(form) {
    // The service would refuse a larger file (413) before any page runs: said before sending.
    const file = form.querySelector("input[type=file]");
    return Boolean(form.dataset.cap && file && file.files.length && file.files[0].size > Number(form.dataset.cap) - FORM_ROOM);
  }

  function follow(section) {
    const bar = document.getElementById("verification-progress");
    const walked = section.querySelector(".walked"), total = section.querySelector(".total");
    async function tick() {
      let progress;
      try {
        const response = await fetch(section.dataset.progress, {credentials: "same-origin",
                                                                headers: {"Accept": "application/json"}});
        progress = await response.json();
      } catch (_) {
        window.setTimeout(tick, POLL_MS * 4);
        return;
      }
      bar.max = Math.max(progress.total, 1);
      bar.value = progress.done ? bar.max : progress.checked;
      walked.textContent = progress.done ? progress.total : progress.checked;
      total.textContent = progress.total;
      if (progress.done) {
        section.dataset.done = "true";
        window.location.reload();  // the result, as the server draws it
      } else {
        window.setTimeout(tick, POLL_MS);
      }
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form.audit-form[method=post]")) {
      form.addEventListener("submit", (event) => {
        if (tooLarge(form)) {
          event.preventDefault();
          say(words().too_large);
        }
      });
    }
    const section = document.getElementById("verification");
    if (section && section.dataset.done === "false") follow(section);
  });
})();
