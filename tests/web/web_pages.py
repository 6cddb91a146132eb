"""Reading the console's pages in tests: a small DOM (the standard library's HTML parser),
signing in as a browser does, and a world of two teams to read and write in."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else f" {c.text} " for c in self.children).split())

    def walk(self) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                found.append(child)
                found.extend(child.walk())
        return found

    def all(self, selector: str) -> list[Element]:
        """``#id``, ``.class``, ``tag``, or ``tag.class`` / ``tag#id``; ``[name=value]`` after any of them."""
        base, _, attr = selector.partition("[")
        tag, _, klass = base.partition(".")
        tag, _, ident = tag.partition("#")
        name, _, value = attr.rstrip("]").partition("=")
        return [e for e in self.walk() if (not tag or e.tag == tag) and (not klass or klass in e.classes)
                and (not ident or e.attrs.get("id") == ident) and (not name or e.attrs.get(name) == value.strip('"'))]

    def one(self, selector: str) -> Element:
        found = self.all(selector)
        assert len(found) == 1, f"{selector}: {len(found)} found"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v if v is not None else "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    return builder.root


def sign_in(client: TestClient, token: str) -> Any:
    """As a browser: fetch the form (its CSRF cookie and field), post the key; the answer
    is not followed (303 on success)."""
    client.cookies.clear()
    form = dom(client.get("/app/sign-in").text).one("#sign-in")
    csrf = form.one("input[name=csrf]").attrs["value"]
    return client.post("/app/sign-in", data={"api_key": token, "csrf": csrf}, follow_redirects=False)


def csrf_of(page: Element) -> str:
    return page.one("body").attrs["data-csrf"]


def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


@dataclass
class World:
    """West: Rob and Rita (reps), Mia (its manager). East: Eve. One pipeline; a contact and a
    deal for each of Rob, Rita and Eve. Keys for every role (made last: until then, open mode)."""

    client: TestClient
    services: Services
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    position: int = 0

    def write(self, method: str, path: str, body: Any, status: int = 201) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens['admin']}"} if "admin" in self.tokens else {}
        answer = ok(self.client.request(method, path, json=body, headers=headers), status)
        self.position = max(self.position, answer.get("position", 0))
        return answer


STAGES = [{"name": "Contact", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"},
          {"name": "Signature", "probability": "0.9"}]


def world(client: TestClient, services: Services) -> World:
    w = World(client, services)
    ids = w.ids
    ids["west"] = w.write("POST", "/teams", {"name": "West"})["id"]
    ids["east"] = w.write("POST", "/teams", {"name": "East"})["id"]
    for name, team in (("rob", "west"), ("rita", "west"), ("mia", "west"), ("eve", "east")):
        ids[name] = w.write("POST", "/reps", {"name": name.title(), "email": f"{name}@example.com", "team_id": ids[team]})["id"]
    ids["pipeline"] = w.write("POST", "/pipelines", {"name": "New business", "stages": STAGES})["id"]
    ids["company"] = w.write("POST", "/companies", {"name": "Acme SA"})["id"]
    for owner in ("rob", "rita", "eve"):
        ids[f"{owner}_contact"] = w.write("POST", "/contacts", {
            "first_name": owner.title(), "last_name": "Client", "email": f"client.{owner}@example.com",
            "owner_id": ids[owner], "company_id": ids["company"]})["id"]
        ids[f"{owner}_deal"] = w.write("POST", "/deals", {
            "title": f"{owner.title()}'s fleet", "pipeline_id": ids["pipeline"], "stage": "Contact", "amount": "1234.50",
            "currency": "EUR", "owner_id": ids[owner], "contact_ids": [ids[f"{owner}_contact"]],
            "company_id": ids["company"]})["id"]
    keys = services.api_keys
    for role, rep in ((Role.ADMIN, None), (Role.AUDITOR, None), (Role.ANALYST, None), (Role.REP, "rob"),
                      (Role.MANAGER, "mia")):
        name = rep or str(role)
        _key, w.tokens[name] = keys.create(role, rep_id=UUID(ids[rep]) if rep else None, name=f"{name} key")
    assert services.projector.wait_for(w.position, 10)  # every page read after this sees the world
    return w


def bearer(w: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.tokens[who]}"}


def json_board(w: World, who: str, **query: str) -> dict[str, Any]:
    """The JSON board of the world's pipeline, as ``who``'s key reads it."""
    return ok(w.client.get(f"/pipelines/{w.ids['pipeline']}/board", params=query, headers=bearer(w, who)), 200)


def columns(page: Element) -> list[dict[str, Any]]:
    """The board page's columns: what each shows, as the JSON board would say it (``expected``)."""
    return [{"name": column.attrs["data-stage"], "stage_name": column.one(".stage-name").text,
             "count": int(column.one(".count").text), "amount": column.one(".total").attrs["data-amount"],
             "weighted_amount": column.one(".weighted").attrs["data-amount"],
             "deals": [card.attrs["data-deal-id"] for card in column.all("article.deal-card")]}
            for column in page.one("#board").all("div.column")]


def expected(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": s["name"], "stage_name": s["name"], "count": s["count"], "amount": s["amount"],
             "weighted_amount": s["weighted_amount"], "deals": [d["id"] for d in s["deals"]]} for s in board["stages"]]
