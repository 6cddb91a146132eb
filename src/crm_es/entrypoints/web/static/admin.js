// The admin pages: every form is a command of the JSON API, sent by console.js's send (the
// session's X-CSRF-Token and an Idempotency-Key; If-Match where the page knows the record's
// version); then the page's #admin part is drawn again as the server has it after the
// command's position. A refusal is shown as the problem says it, its fields named.
// (The forms say method="post": one sent before this script has run is refused, 405,
// rather than putting what was typed in the page's address.)
"use strict";

(function () {
  const api = window.crmConsole;
  const words = () => JSON.parse(document.getElementById("admin-words").textContent);

  const lines = (text) => String(text || "").split("\n").map((line) => line.trim()).filter(Boolean);

  function stageLines(text) {
    // "Proposal 0.5": a stage's name, then its probability (0 to 1; a decimal comma is read too).
    return lines(text).map((line) => {
      const found = line.match(/^(.*\S)\s+(\d*[.,]?\d+)$/);
      return found ? {name: found[1], probability: found[2].replace(",", ".")} : {name: line, probability: ""};
    });
  }

  function command(form) {
    // The form's path and body: each named field, an empty one left out (one marked
    // data-keep-empty sends null: "no team"); data-lines a list, one item a line;
    // data-boolean a checkbox's true or false; data-path-only fills the path's {name}.
    let path = form.dataset.path;
    const body = {};
    for (const field of form.elements) {
      if (!field.name) continue;
      const data = field.dataset, value = String(field.value || "").trim();
      if ("pathOnly" in data) path = path.replace("{" + field.name + "}", encodeURIComponent(value));
      else if ("lines" in data) body[field.name] = lines(field.value);
      else if ("stageLines" in data) body[field.name] = stageLines(field.value);
      else if ("boolean" in data) body[field.name] = field.checked;
      else if (value !== "") body[field.name] = value;
      else if ("keepEmpty" in data) body[field.name] = null;
    }
    return [path, body];
  }

  function refusal(sent) {
    const answer = sent.answer || {};
    const fields = (answer.errors || []).map((e) => e.field + ": " + e.message).join("; ");
    return words().refused + " " + api.problemText(answer, sent.status) + (fields ? " (" + fields + ")" : "");
  }

  async function run(form, method, path, body, version) {
    const result = document.getElementById("admin-result");
    result.textContent = "";  // "Saved." again only once this command is
    const buttons = Array.from(form.querySelectorAll("button"));
    buttons.forEach((b) => { b.disabled = true; });  // one click, one command
    const sent = await api.send(method, path, body, version);
    buttons.forEach((b) => { b.disabled = false; });
    if (!sent.ok) {
      api.say(refusal(sent));
      return;
    }
    document.getElementById("conflict").hidden = true;
    const fresh = await api.samePage(sent.answer.position);
    document.getElementById("admin").replaceWith(fresh.getElementById("admin"));
    result.textContent = words().saved;
  }

  // --- a pipeline's stages, an editable table ------------------------------------------

  function renumber(table) {
    table.querySelectorAll("tr.stage").forEach((row, n) => { row.querySelector(".order").textContent = String(n + 1); });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("form.pipeline button[type=button]");
    if (!button) return;
    const form = button.closest("form.pipeline"), row = button.closest("tr.stage");
    if (button.matches(".add-stage")) {
      const fresh = document.getElementById("new-stage").content.firstElementChild.cloneNode(true);
      form.querySelector("table.stages tbody").append(fresh);
      fresh.querySelector("input[name=stage]").focus();
    } else if (button.matches(".up") && row.previousElementSibling) {
      row.previousElementSibling.before(row);
    } else if (button.matches(".down") && row.nextElementSibling) {
      row.nextElementSibling.after(row);
    } else if (button.matches(".remove")) {
      row.remove();
    }
    renumber(form.querySelector("table.stages"));
  });

  function pipelineChange(form) {
    const stages = Array.from(form.querySelectorAll("tr.stage")).map((row) => {
      const stage = {name: row.querySelector("input[name=stage]").value.trim(),
                     probability: row.querySelector("input[name=probability]").value.trim().replace(",", ".")};
      if (row.dataset.stageId) stage.id = row.dataset.stageId;  // a renamed stage keeps its deals
      return stage;
    });
    return {name: form.querySelector("input[name=name]").value.trim(), stages};
  }

  // --- the forms ---------------------------------------------------------------------

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.closest || !form.closest("#admin")) return;
    event.preventDefault();
    if (form.matches("form.pipeline")) {
      run(form, "PATCH", "/pipelines/" + form.dataset.pipelineId, pipelineChange(form), form.dataset.version);
    } else if (form.matches("form.policy-form")) {
      let settings;
      try {
        settings = JSON.parse(form.elements.settings.value || "{}");
      } catch (error) {
        api.say(words().bad_json + " " + error.message);
        return;
      }
      run(form, "PUT", "/policies/" + encodeURIComponent(form.dataset.policy),
          {enabled: form.elements.enabled.checked, settings});
    } else if (form.matches("form.admin-command")) {
      if ("confirm" in form.dataset && !window.confirm(words().confirm_remove)) return;
      const [path, body] = command(form);
      run(form, form.dataset.method, path, body, form.dataset.version);
    }
  });
})();
