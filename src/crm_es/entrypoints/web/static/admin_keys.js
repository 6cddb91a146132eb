// The API keys page. Its forms post to the page's own routes (their `csrf` field holding the
// session's token: they work without this script too). Sent from here, the page the server
// answers is shown in place, so that reloading it reads the list again rather than posting
// the form twice (a second key made, its secret shown). A revocation is confirmed first; the
// rep chooser is on only for roles whose keys name one; a new key's secret can be copied.
"use strict";

(function () {
  const words = () => JSON.parse(document.getElementById("admin-keys-words").textContent);

  function say(text) {
    const box = document.getElementById("conflict");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  async function sendForm(form) {
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;  // one click, one key
    try {
      const response = await fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                                                 credentials: "same-origin"});
      const html = await response.text();  // the list again, with the new key's secret or a refusal
      document.open();
      document.write(html);
      document.close();
    } catch (error) {
      say(words().send_failed + " " + error);
      if (button) button.disabled = false;
    }
  }

  function repChooser(form) {
    const role = form.querySelector("select[name=role]"), rep = form.querySelector("select[name=rep_id]");
    const needs = (form.dataset.needsRep || "").split(" ");
    const sync = () => {
      rep.disabled = !needs.includes(role.value);  // a disabled field is not sent
      rep.required = !rep.disabled;
    };
    role.addEventListener("change", sync);
    sync();
  }

  function start() {
    for (const form of document.querySelectorAll("form.admin-keys-form")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
        sendForm(form);
      });
    }
    const create = document.getElementById("create-key");
    if (create) repChooser(create);
    const copy = document.getElementById("copy-secret");
    if (copy) {
      copy.addEventListener("click", async () => {
        await navigator.clipboard.writeText(document.getElementById("new-key-secret").textContent);
        copy.nextElementSibling.hidden = false;
      });
    }
  }

  // A page shown with document.write has its scripts run again, after the document is parsed.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
