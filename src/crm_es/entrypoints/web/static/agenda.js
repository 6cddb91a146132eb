// The agenda: "mark done" sends POST /tasks/{id}/done (console.js's send: the session's
// X-CSRF-Token and an Idempotency-Key), then redraws the agenda as the server has it now.
"use strict";

(function () {
  const api = window.crmConsole;
  const agendaWords = () => JSON.parse(document.getElementById("agenda-words").textContent);

  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("#agenda button.mark-done");
    if (!button) return;
    const task = button.closest(".task");
    button.disabled = true;  // one click, one command
    const sent = await api.send("POST", "/tasks/" + task.dataset.taskId + "/done", {});
    if (!sent.ok) {
      button.disabled = false;
      api.say(agendaWords().done_failed + " " + api.problemText(sent.answer, sent.status));
      return;
    }
    document.getElementById("conflict").hidden = true;
    const fresh = await api.samePage(sent.answer.position);
    document.getElementById("agenda").replaceWith(fresh.getElementById("agenda"));
  });
})();
