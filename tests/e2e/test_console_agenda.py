"""A rep's agenda in the browser: the JSON agenda's tasks, overdue first, and a task marked
done from the page through POST /tasks/{id}/done (agenda.js), kept by the API."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console

TASKS_JS = "() => [...document.querySelectorAll('#agenda li.task')].map(task => task.dataset.taskId)"


def test_a_rep_marks_a_task_of_their_day_done_from_the_agenda(console: Console, browse: Any) -> None:
    page = browse(console.url, console.rep)
    page.goto("/app/agenda")
    expect(page.locator("#agenda li.task").first).to_be_visible()
    day = page.locator("#agenda-choice input[name=date]").input_value()
    agenda = console.get("/agenda", console.rep, date=day)["items"]
    assert page.evaluate(TASKS_JS) == [item["id"] for item in agenda]
    overdue = [item["id"] for item in agenda if item["overdue"]]
    assert page.evaluate(TASKS_JS)[:len(overdue)] == overdue  # overdue first

    task = page.locator("#agenda li.task:has(button.mark-done)").first
    task_id = task.get_attribute("data-task-id")
    task.locator("button.mark-done").click()
    done = page.locator(f'#agenda li.task[data-task-id="{task_id}"]')
    # A task due today stays, marked done; an overdue one leaves the list (the agenda lists open ones only).
    expect(page.locator(f'#agenda li.task[data-task-id="{task_id}"] button.mark-done')).to_have_count(0)
    assert console.get(f"/tasks/{task_id}", console.rep)["status"] == "done"
    if done.count():
        expect(done).to_have_class("task done")
    shoot(page, "agenda")
