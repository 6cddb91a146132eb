// The CSV import page. (a) The chosen file is read here (FileReader: nothing is sent yet):
// its header and first rows make the mapping table, each column's property guessed as the
// import itself reads a header (crm_es.imports.mapping: the property's name or an alias).
// (b) "Dry run" sends the file and the mapping to POST /imports/contacts with dry_run=true,
// (c) "Import" the same with dry_run=false, each as any client of the API sends it:
// multipart, the session cookie, X-CSRF-Token and an Idempotency-Key. The report is the API's.
"use strict";

(function () {
  const PREVIEW_ROWS = 3;
  const DELIMITERS = [",", ";", "\t", "|"];  // the ones the import reads (imports/csv_file.py)
  const csrf = () => document.body.dataset.csrf || "";
  const json = (id) => JSON.parse(document.getElementById(id).textContent);
  const $ = (id) => document.getElementById(id);
  let file = null, header = [], dryRunFor = null;  // dryRunFor: the file + mapping a dry run was read for

  function newKey() {
    return window.crmConsole ? window.crmConsole.newKey() : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // As crmConsole.send, for a multipart body (the browser writes its boundary: no Content-Type here).
  async function sendForm(path, form) {
    const response = await fetch(path, {method: "POST", body: form, credentials: "same-origin",
      headers: {"Accept": "application/json", "Idempotency-Key": newKey(), "X-CSRF-Token": csrf()}});
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    return {status: response.status, ok: response.ok, answer};
  }

  // --- (a) the file's first lines, read here -------------------------------------------

  function delimiterOf(line) {
    const counts = DELIMITERS.map((d) => {
      let n = 0, quoted = false;
      for (const ch of line) {
        if (ch === '"') quoted = !quoted;
        else if (ch === d && !quoted) n += 1;
      }
      return n;
    });
    const best = Math.max(...counts);
    return best > 0 ? DELIMITERS[counts.indexOf(best)] : ",";
  }

  function records(text, delimiter, wanted) {
    // RFC 4180 as spreadsheets write it: quoted cells may hold the delimiter, "" and line breaks.
    const rows = [];
    let row = [], cell = "", quoted = false;
    for (let i = 0; i < text.length && rows.length < wanted; i += 1) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i += 1; }
        else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === delimiter) { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i += 1;
        row.push(cell); cell = "";
        if (row.some((c) => c.trim() !== "")) rows.push(row);
        row = [];
      } else cell += ch;
    }
    if ((cell !== "" || row.length) && rows.length < wanted) {
      row.push(cell);
      if (row.some((c) => c.trim() !== "")) rows.push(row);
    }
    return rows;
  }

  function guess(column, targets, aliases) {
    const name = column.trim();
    const [base] = name.split(":");
    if (base.startsWith("properties.") && targets.includes(base)) return base;
    const normal = name.toLowerCase().replace(/[\s-]+/g, "_");
    const target = aliases[normal] || normal;
    if (targets.includes(target)) return target;
    return targets.includes("properties." + normal) ? "properties." + normal : "";
  }

  function mappingTable(rows) {
    const {targets, aliases} = json("import-targets");
    const body = $("mapping").querySelector("tbody");
    body.textContent = "";
    const taken = new Set();
    header.forEach((column, index) => {
      const tr = document.createElement("tr");
      tr.className = "column";
      tr.dataset.column = column;
      const name = document.createElement("th");
      name.textContent = column;
      const choice = document.createElement("td");
      const select = document.createElement("select");
      select.name = "map:" + index;
      select.setAttribute("aria-label", column);
      const ignore = new Option(json("import-words").ignore, "");
      select.append(ignore, ...targets.map((t) => new Option(t, t)));
      const guessed = guess(column, targets, aliases);
      select.value = guessed && !taken.has(guessed) ? guessed : "";  // one column a property, as the import wants
      if (select.value) taken.add(select.value);
      choice.append(select);
      const values = document.createElement("td");
      values.className = "values";
      values.textContent = rows.map((r) => r[index] || "").filter(Boolean).join(" · ");
      tr.append(name, choice, values);
      body.append(tr);
    });
    mappingChanged();
  }

  function read(chosen) {
    file = chosen;
    dryRunFor = null;
    $("report").hidden = true;
    const reader = new FileReader();
    reader.onload = () => {
      const text = String(reader.result).replace(/^\uFEFF/, "");
      const firstLine = text.split(/\r?\n/, 1)[0] || "";
      const [head, ...rows] = records(text, delimiterOf(firstLine), PREVIEW_ROWS + 1);
      header = (head || []).map((c) => c.trim());
      mappingTable(rows);
      $("step-mapping").hidden = false;
      $("step-run").hidden = false;
    };
    reader.readAsText(chosen);  // UTF-8 for the preview; the service reads other encodings itself
  }

  // --- (b) and (c): the dry run, then the import ----------------------------------------

  function mapping() {
    // Every column said: a property, or "column=" (ignored, even if its header names one).
    return Array.from($("mapping").querySelectorAll("tr.column")).map((tr) =>
      tr.dataset.column + "=" + tr.querySelector("select").value);
  }

  function mappingChanged() {
    const chosen = mapping();
    const hasEmail = chosen.some((entry) => entry.endsWith("=email"));
    $("needs-email").hidden = hasEmail;
    const dry = $("dry-run"), real = $("run-import");
    if (dry) dry.disabled = !hasEmail;
    if (real) real.disabled = dryRunFor === null || dryRunFor.file !== file || dryRunFor.map !== chosen.join("\n");
  }

  async function run(dryRun) {
    const form = new FormData();
    form.append("file", file, file.name);
    const chosen = mapping();
    chosen.forEach((entry) => form.append("map", entry));
    form.append("dry_run", dryRun ? "true" : "false");
    const buttons = [$("dry-run"), $("run-import")];
    buttons.forEach((b) => { b.disabled = true; });
    const box = $("report");
    box.hidden = false;
    box.textContent = json("import-words").running;
    box.dataset.state = "running";
    let sent;
    try {
      sent = await sendForm($("import").dataset.path, form);
    } catch (error) {
      sent = {ok: false, status: 0, answer: {title: String(error)}};
    }
    if (sent.ok) {
      report(sent.answer);
      dryRunFor = dryRun ? {file, map: chosen.join("\n")} : null;
    } else {
      const words = json("import-words");
      box.textContent = "";
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = words.failed + " " + problem(sent.answer, sent.status);
      box.append(p);
      box.dataset.state = "refused";
    }
    mappingChanged();
  }

  function problem(answer, status) {
    if (window.crmConsole) {
      const text = window.crmConsole.problemText(answer, status);
      const errors = (answer && answer.errors) || [];
      return [text, ...errors.map((e) => (e.field ? e.field + ": " : "") + (e.message || ""))].join(" — ");
    }
    return "HTTP " + status;
  }

  function cell(tr, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    tr.append(td);
  }

  function report(answer) {
    const words = json("import-words");
    const box = $("report");
    box.textContent = "";
    box.dataset.state = answer.dry_run ? "dry-run" : "done";
    box.dataset.position = String(answer.position);
    const title = document.createElement("h2");
    title.textContent = answer.dry_run ? words.report_dry : words.report_done;
    box.append(title);
    const counts = document.createElement("ul");
    counts.id = "report-counts";
    counts.className = "ops-counts";
    const rowsRead = document.createElement("li");
    rowsRead.dataset.count = "rows";
    rowsRead.innerHTML = '<span class="count"></span> <span class="state-name"></span>';
    rowsRead.querySelector(".count").textContent = answer.file.rows;
    rowsRead.querySelector(".state-name").textContent = words.rows_read;
    counts.append(rowsRead);
    for (const key of ["imported", "updated", "skipped", "failed"]) {
      const li = document.createElement("li");
      li.dataset.count = key;
      li.className = "state-" + key + (answer.counts[key] ? " some" : "");
      const n = document.createElement("span");
      n.className = "count";
      n.textContent = answer.counts[key] || 0;
      const name = document.createElement("span");
      name.className = "state-name";
      name.textContent = words["count_" + key];
      li.append(n, " ", name);
      counts.append(li);
    }
    box.append(counts);
    if (answer.ignored_columns && answer.ignored_columns.length) {
      const p = document.createElement("p");
      p.id = "ignored-columns";
      p.textContent = words.ignored_columns + ": " + answer.ignored_columns.join(", ");
      box.append(p);
    }
    // Every row the import did not simply add: refused ones with their reasons, updated or unchanged ones.
    const notable = answer.rows.filter((r) => r.status !== "imported" || r.note);
    if (notable.length) {
      const table = document.createElement("table");
      table.id = "report-rows";
      table.className = "ops-table";
      const head = table.createTHead().insertRow();
      for (const h of [words.line, words.status, words.why]) {
        const th = document.createElement("th");
        th.textContent = h;
        head.append(th);
      }
      const body = table.createTBody();
      for (const row of notable) {
        const tr = body.insertRow();
        tr.className = "row status-" + row.status;
        tr.dataset.line = String(row.line);
        tr.dataset.status = row.status;
        cell(tr, String(row.line));
        cell(tr, words["status_" + row.status] || row.status);
        const why = (row.errors || []).map((e) => (e.column || e.field) + ": " + e.message);
        if (row.note) why.unshift(row.note);
        cell(tr, why.join("; "), "why");
      }
      box.append(table);
    }
    if (!answer.dry_run) {
      const link = document.createElement("a");
      link.id = "see-contacts";
      link.href = "/app/contacts";
      link.textContent = words.see_contacts;
      box.append(link);
    }
  }

  function start() {
    const input = $("import-file");
    if (!input) return;
    input.addEventListener("change", () => { if (input.files.length) read(input.files[0]); });
    $("mapping").addEventListener("change", mappingChanged);
    const dry = $("dry-run"), real = $("run-import");
    if (dry) dry.addEventListener("click", () => run(true));
    if (real) real.addEventListener("click", () => run(false));
    if (input.files.length) read(input.files[0]);  // a file kept by the browser across a reload
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
