"""The admin set-up pages in the browser: an admin adds a rep and a team and moves the rep into
it, makes a pipeline and adds a stage to it from its table, switches an automation off and on
and sees bad settings refused — every change sent by admin.js to the JSON API and checked there."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console


def test_an_admin_adds_a_rep_and_a_team_and_moves_the_rep_into_it(console: Console, browse: Any) -> None:
    suffix = uuid4().hex[:6]
    page = browse(console.url, console.admin)
    page.goto("/app/admin")
    expect(page.locator("#admin-index a")).to_have_count(7)
    shoot(page, "admin-index")
    with page.expect_navigation():  # to the page loaded, its script with it
        page.locator('#admin-index a[href="/app/admin/people"]').click()

    add_rep = page.locator("form#add-rep")
    add_rep.locator("input[name=name]").fill(f"Zoé {suffix}")
    add_rep.locator("input[name=email]").fill(f"zoe.{suffix}@example.com")
    add_rep.locator("button[type=submit]").click()
    expect(page.locator("tr.rep td.name", has_text=f"Zoé {suffix}")).to_be_visible()
    [rep] = console.get("/reps", q=f"zoe.{suffix}")["items"]
    assert rep["name"] == f"Zoé {suffix}" and rep["team_id"] is None and rep["active"] is True

    add_team = page.locator("form#add-team")
    add_team.locator("input[name=name]").fill(f"North {suffix}")
    add_team.locator("button[type=submit]").click()
    team_row = page.locator("tr.team", has=page.locator("td.name", has_text=f"North {suffix}"))
    expect(team_row).to_be_visible()
    team_id = team_row.get_attribute("data-team-id")
    assert console.get(f"/teams/{team_id}")["name"] == f"North {suffix}"

    team_row.locator("form.add-member select[name=rep_id]").select_option(rep["id"])
    team_row.locator("form.add-member button[type=submit]").click()
    expect(page.locator(f'tr.rep[data-rep-id="{rep["id"]}"] td.team')).to_have_text(f"North {suffix}")
    expect(page.locator("#admin-result")).to_have_text("Saved.")
    assert console.get(f"/reps/{rep['id']}")["team_id"] == team_id
    assert rep["id"] in console.get(f"/teams/{team_id}")["member_ids"]
    shoot(page, "admin-people")


def test_an_admin_makes_a_pipeline_and_adds_a_stage_to_it(console: Console, browse: Any) -> None:
    name = f"Renewals {uuid4().hex[:6]}"  # a pipeline of its own: the board tests use the demo's
    page = browse(console.url, console.admin)
    page.goto("/app/admin/pipelines")
    add = page.locator("form#add-pipeline")
    add.locator("input[name=name]").fill(name)
    add.locator("textarea[name=stages]").fill("Due 0.2\nSigned 1")
    add.locator("button[type=submit]").click()
    expect(page.locator("#admin-result")).to_have_text("Saved.")
    form = page.locator("form.pipeline", has=page.locator(f'input[name=name][value="{name}"]'))
    expect(form.locator("tr.stage")).to_have_count(2)
    pipeline_id = form.get_attribute("data-pipeline-id")
    assert [s["name"] for s in console.get(f"/pipelines/{pipeline_id}")["stages"]] == ["Due", "Signed"]

    form.locator("button.add-stage").click()
    new = form.locator("tr.stage").last
    new.locator("input[name=stage]").fill("Proposal")
    new.locator("input[name=probability]").fill("0,6")  # a decimal comma, as in French
    new.locator("button.up").click()  # before "Signed"
    form.locator("button[type=submit]").click()
    expect(page.locator("#admin-result")).to_have_text("Saved.")  # the page drawn again after the command
    expect(form.locator("tr.stage")).to_have_count(3)
    expect(form.locator("tr.stage").nth(1).locator("input[name=stage]")).to_have_value("Proposal")
    stages = console.get(f"/pipelines/{pipeline_id}")["stages"]
    assert [(s["name"], float(s["probability"])) for s in stages] == [("Due", 0.2), ("Proposal", 0.6), ("Signed", 1.0)]
    shoot(page, "admin-pipelines")


def test_an_admin_switches_an_automation_off_and_on(console: Console, browse: Any) -> None:
    page = browse(console.url, console.admin)
    page.goto("/app/admin/automations")
    policy = page.locator('article.policy[data-policy="task-after-meeting"]')
    was = console.get("/policies")["items"]
    assert [name for name in page.locator("article.policy").evaluate_all("all => all.map(a => a.dataset.policy)")] \
        == [p["name"] for p in was]

    policy.locator("input[name=enabled]").set_checked(False)
    policy.locator("button[type=submit]").click()
    expect(policy).to_have_attribute("data-enabled", "false")
    assert _policy(console)["enabled"] is False
    shoot(page, "admin-automations-off")

    policy.locator("input[name=enabled]").set_checked(True)
    policy.locator("button[type=submit]").click()
    expect(policy).to_have_attribute("data-enabled", "true")
    assert _policy(console)["enabled"] is True

    settings = policy.locator("textarea[name=settings]")
    settings.fill('{"due_after_hours": -1}')  # refused: the problem names the field
    policy.locator("button[type=submit]").click()
    expect(page.locator("#conflict")).to_contain_text("settings.due_after_hours")
    assert _policy(console)["settings"]["due_after_hours"] != -1
    shoot(page, "admin-automations-refused")


def _policy(console: Console) -> dict[str, Any]:
    return next(p for p in console.get("/policies")["items"] if p["name"] == "task-after-meeting")


def test_an_admin_adds_a_tag_category_from_the_settings_page(console: Console, browse: Any) -> None:
    category = f"e2e-{uuid4().hex[:6]}"  # a category of its own: the demo's stay as they are
    page = browse(console.url, console.admin)
    page.goto("/app/admin/settings")
    shown = page.locator("#list-statuses textarea").input_value().split("\n")
    assert shown == console.get("/settings")["statuses"]
    add = page.locator("form#add-tag-category")
    add.locator("input[name=category]").fill(category)
    add.locator("textarea[name=tags]").fill("Small\nLarge")
    add.locator("button[type=submit]").click()
    expect(page.locator("#admin-result")).to_have_text("Saved.")
    expect(page.locator(f'div.tag-category[data-category="{category}"] textarea')).to_have_value("Small\nLarge")
    assert console.get("/settings")["tag_categories"][category] == ["Small", "Large"]
    shoot(page, "admin-settings")
