// The console's script: a client of the public JSON API, like any other. Moves and calls are
// sent with If-Match (the version the page showed), an Idempotency-Key (a retry writes
// nothing twice) and the session's X-CSRF-Token; refusals are problem+json, shown as such.
"use strict";

(function () {
  const csrf = () => document.body.dataset.csrf || "";
  const words = () => JSON.parse(document.getElementById("words").textContent);

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  async function send(method, path, body, version) {
    const headers = {"Content-Type": "application/json", "Idempotency-Key": newKey(), "X-CSRF-Token": csrf(),
                     "Accept": "application/json"};
    if (version) headers["If-Match"] = '"' + version + '"';
    const response = await fetch(path, {method, headers, body: JSON.stringify(body), credentials: "same-origin"});
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    return {status: response.status, ok: response.ok, answer};
  }

  async function getJson(path) {
    const response = await fetch(path, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
    if (!response.ok) throw new Error(path + ": " + response.status);
    return response.json();
  }

  async function samePage(extra) {
    // This page again, as the server renders it now (after the position a command answered).
    const url = new URL(window.location.href);
    if (extra) url.searchParams.set("after", extra);
    const response = await fetch(url, {credentials: "same-origin"});
    return new DOMParser().parseFromString(await response.text(), "text/html");
  }

  function say(text, movedBy) {
    const box = document.getElementById("conflict");
    if (!box) return;
    box.textContent = "";
    const line = document.createElement("p");
    line.textContent = text;
    if (movedBy !== undefined) {
      const who = document.createElement("span");
      who.className = "moved-by";
      who.textContent = movedBy;
      line.append(" ", who, ". ", words().moved_refreshed);
    }
    box.append(line);
    box.hidden = false;
  }

  function problemText(answer, status) {
    if (answer && (answer.title || answer.detail)) return [answer.title, answer.detail].filter(Boolean).join(": ");
    return "HTTP " + status;
  }

  // What the other pages' scripts (dashboards.js, audit.js, lists.js, …) call: one way to
  // send a command, read JSON, redraw this page and show a refusal.
  window.crmConsole = {send, getJson, samePage, say, problemText, newKey};

  // --- the board ---------------------------------------------------------------------

  async function refreshBoard(position, focusId) {
    const fresh = await samePage(position);
    const now = document.getElementById("board");
    const next = fresh.getElementById("board");
    if (now && next) now.replaceWith(next);
    if (focusId) {
      const card = document.querySelector('.deal-card[data-deal-id="' + focusId + '"]');
      if (card) card.focus();
    }
  }

  async function lastMover(dealId) {
    // Who wrote the deal's last event: its timeline, read to the end, then the rep's name.
    let cursor = null, last = null;
    do {
      const page = await getJson("/deals/" + dealId + "/timeline?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      if (page.items.length) last = page.items[page.items.length - 1];
      cursor = page.next_cursor;
    } while (cursor);
    if (!last) return "?";
    const actor = String(last.actor);
    if (actor.startsWith("rep:")) {
      try { return (await getJson("/reps/" + actor.slice(4))).name || actor; } catch (_) { return actor; }
    }
    return actor;
  }

  async function refused(sent, dealId, failed) {
    // A stale card (412) says who changed the deal and shows it as it is now; any other
    // refusal is the problem's own title and detail.
    if (sent.status === 412) {
      let who = "?";
      try { who = await lastMover(dealId); } catch (_) { /* the name stays unknown */ }
      say(words().moved_by, who);
      await refreshBoard(null, dealId);
      return;
    }
    say(failed + " " + problemText(sent.answer, sent.status));
  }

  async function move(card, stage) {
    if (!card || !stage || stage === card.dataset.stage) return;
    const dealId = card.dataset.dealId;
    const sent = await send("POST", "/deals/" + dealId + "/stage", {stage}, card.dataset.version);
    if (sent.ok) {
      document.getElementById("conflict").hidden = true;
      card.dataset.version = String(sent.answer.version);
      card.dataset.stage = stage;
      const column = document.querySelector('.column[data-stage="' + CSS.escape(stage) + '"] .cards');
      if (column) column.append(card);
      await refreshBoard(sent.answer.position, dealId);
      return;
    }
    await refused(sent, dealId, words().move_failed);
  }

  // Won and lost from the card: the deal closes, so it leaves the board (only open deals are
  // on it) and the columns' figures are drawn again, as after a move.
  const boardWords = () => JSON.parse((document.getElementById("board-words") || {}).textContent || "{}");

  async function close(card, outcome, body) {
    const dealId = card.dataset.dealId, stage = card.dataset.stage;
    const buttons = Array.from(card.querySelectorAll("button"));
    buttons.forEach((b) => { b.disabled = true; });  // one click, one command: a second would be a 412
    const sent = await send("POST", "/deals/" + dealId + "/" + outcome, body, card.dataset.version);
    buttons.forEach((b) => { b.disabled = false; });
    if (sent.ok) {
      document.getElementById("conflict").hidden = true;
      await refreshBoard(sent.answer.position);
      // Keyboard users go on from the column the card left, not from the top of the page.
      const next = document.querySelector('#board .column[data-stage="' + CSS.escape(stage) + '"] .deal-card');
      if (next) next.focus();
      return;
    }
    await refused(sent, dealId, boardWords().close_failed);
  }

  function reasonForm(card, open) {
    const form = card.querySelector("form.lost-reason");
    const button = card.querySelector("button.lose");
    if (!form) return;
    form.hidden = !open;
    if (button) button.setAttribute("aria-expanded", String(open));
    if (open) form.querySelector('input[name="reason"]').focus();
    else if (button) button.focus();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".deal-card button");
    if (!button) return;
    const card = button.closest(".deal-card");
    if (button.matches("button.win")) {
      const title = card.querySelector(".title").textContent;
      if (window.confirm(boardWords().win_confirm.replace("{title}", title))) close(card, "won", {});
    } else if (button.matches("button.lose")) {
      reasonForm(card, true);
    } else if (button.matches("form.lost-reason button.cancel")) {
      reasonForm(card, false);
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches || !form.matches("form.lost-reason")) return;
    event.preventDefault();
    const reason = String(new FormData(form).get("reason") || "").trim();
    if (!reason) {
      form.querySelector('input[name="reason"]').focus();
      return;
    }
    close(form.closest(".deal-card"), "lost", {reason});
  });

  function neighbour(card, step) {
    const columns = Array.from(document.querySelectorAll("#board .column"));
    const at = columns.findIndex((c) => c.dataset.stage === card.dataset.stage);
    const to = columns[at + step];
    return to ? to.dataset.stage : null;
  }

  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest(".deal-card.write");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.dataset.dealId);
    event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", (event) => {
    if (event.target.closest && event.target.closest("#board .column")) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    const column = event.target.closest && event.target.closest("#board .column");
    if (!column) return;
    event.preventDefault();
    const id = event.dataTransfer.getData("text/plain");
    const card = document.querySelector('.deal-card.write[data-deal-id="' + id + '"]');
    move(card, column.dataset.stage);
  });
  document.addEventListener("keydown", (event) => {
    const card = event.target.closest && event.target.closest(".deal-card.write");
    // The card itself, not its buttons or the reason's field (an arrow there moves the caret).
    if (!card || event.target !== card || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    event.preventDefault();
    move(card, neighbour(card, event.key === "ArrowRight" ? 1 : -1));
  });

  document.addEventListener("change", (event) => {
    // The pipeline, owner and team choosers show their board at once (the form keeps the date).
    if (event.target.matches && event.target.matches("#time-travel select")) event.target.form.submit();
  });

  // --- the time-travel slider (the board, the dashboards) -------------------------------
  // Days back from today, written into the form's date while it moves; let go, the page is
  // drawn as it stood then. Back at 0, the date is cleared: today.

  function slidDay(slider) {
    if (Number(slider.value) === 0) return "";
    const day = new Date(slider.dataset.today + "T00:00:00Z");
    day.setUTCDate(day.getUTCDate() + Number(slider.value));
    return day.toISOString().slice(0, 10);
  }

  document.addEventListener("input", (event) => {
    const slider = event.target.closest && event.target.closest("input[data-as-of-slider]");
    if (!slider) return;
    const day = slidDay(slider);
    slider.form.querySelector("input[name=as_of]").value = day;
    slider.setAttribute("aria-valuetext", day || slider.dataset.today);
  });
  document.addEventListener("change", (event) => {
    const slider = event.target.closest && event.target.closest("input[data-as-of-slider]");
    if (slider) slider.form.requestSubmit();
  });

  // --- a contact's page: a call, a note, a task, an e-mail, a document ---------------------

  const RECORD_FORMS = {
    "log-call": (data, form) => {
      const body = {type: "call"};
      if (data.get("summary")) body.notes = String(data.get("summary"));
      if (data.get("outcome")) body.outcome = String(data.get("outcome"));
      if (data.get("duration_minutes") !== "" && data.get("duration_minutes") !== null) {
        body.duration_seconds = Math.round(Number(data.get("duration_minutes")) * 60);
      }
      return ["/contacts/" + form.dataset.contactId + "/interactions", body];
    },
    "add-note": (data, form) => ["/contacts/" + form.dataset.contactId + "/interactions",
                                 {type: "note", text: String(data.get("text") || "")}],
    "schedule-task": (data, form) => {
      // The browser's local time, sent as an instant; the task is the contact owner's.
      const body = {type: String(data.get("type")), title: String(data.get("title") || ""),
                    due_at: new Date(String(data.get("due_at"))).toISOString(), contact_id: form.dataset.contactId};
      if (form.dataset.ownerId) body.owner_id = form.dataset.ownerId;
      return ["/tasks", body];
    },
    "send-email": (data, form) => ["/contacts/" + form.dataset.contactId + "/messages", {
      channel: "email", subject: String(data.get("subject") || ""), body: String(data.get("body") || ""),
      document_ids: data.getAll("document_ids").map(String)}],
    "issue-document": (data, form) => ["/documents", {
      kind: String(data.get("kind")), contact_id: form.dataset.contactId, currency: String(data.get("currency") || ""),
      lines: [{description: String(data.get("description") || ""), quantity: String(data.get("quantity") || ""),
               unit_price: String(data.get("unit_price") || "")}]}],
  };
  // What a command on a contact's page may change there: drawn again from the server's page.
  const RECORD_PARTS = ["timeline", "record", "documents", "send-email"];

  async function redrawRecord(position) {
    const fresh = await samePage(position);
    for (const id of RECORD_PARTS) {
      const next = fresh.getElementById(id), now = document.getElementById(id);
      if (next && now) now.replaceWith(next);
    }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!RECORD_FORMS[form.id]) return;
    event.preventDefault();
    const [path, body] = RECORD_FORMS[form.id](new FormData(form), form);
    const sent = await send("POST", path, body);
    if (!sent.ok) {
      say(problemText(sent.answer, sent.status));
      return;
    }
    document.getElementById("conflict").hidden = true;
    await redrawRecord(sent.answer.position);
    const sentForm = document.getElementById(form.id);  // perhaps drawn again
    sentForm.reset();
    const said = sentForm.querySelector(".result");
    if (said) said.textContent = words().saved;
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("#documents button.send-document");
    if (!button) return;
    button.disabled = true;  // one click, one e-mail
    const item = button.closest(".document");
    const sent = await send("POST", "/documents/" + item.dataset.documentId + "/send", {});
    if (!sent.ok) {
      button.disabled = false;
      say(problemText(sent.answer, sent.status));
      return;
    }
    document.getElementById("conflict").hidden = true;
    button.textContent = words().saved;
  });
})();
