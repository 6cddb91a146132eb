"""Answers kept between two projector batches (queries/answer_cache.py), on a real DuckDB
read side: kept only at the position they were computed at, and computed in one snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from crm_es.projections.read_side import READ_SIDE, ReadSide
from crm_es.queries import answer_cache


def _set_position(side: ReadSide, position: int) -> None:
    with side.cursor() as c:
        c.execute("UPDATE projection_positions SET position = ? WHERE name = ?", [position, READ_SIDE])


def test_an_answer_is_given_again_only_at_the_position_it_was_computed_at(tmp_path: Path) -> None:
    side = ReadSide(tmp_path / "read.duckdb")
    answer_cache.keep(side.db, 7, ("board", 1), b"at 7")
    assert answer_cache.kept(side.db, 7, ("board", 1)) == b"at 7"
    assert answer_cache.kept(side.db, 8, ("board", 1)) is None
    assert answer_cache.kept(side.db, 6, ("board", 1)) is None
    assert answer_cache.kept(side.db, 7, ("board", 2)) is None
    side.close()


def test_an_answer_kept_at_a_newer_position_drops_the_older_ones(tmp_path: Path) -> None:
    side = ReadSide(tmp_path / "read.duckdb")
    answer_cache.keep(side.db, 7, "a", b"a at 7")
    answer_cache.keep(side.db, 8, "b", b"b at 8")
    answer_cache.keep(side.db, 7, "a", b"a at 7, computed late")  # a slow read of the older side
    answer_cache.keep(side.db, 8, "b", b"b at 8")
    assert answer_cache.kept(side.db, 7, "a") is None
    assert answer_cache.kept(side.db, 8, "a") is None
    assert answer_cache.kept(side.db, 8, "b") == b"b at 8"
    side.close()


def test_another_read_side_at_the_same_position_does_not_share_answers(tmp_path: Path) -> None:
    live, rebuilt = ReadSide(tmp_path / "live.duckdb"), ReadSide(tmp_path / "rebuilt.duckdb")
    answer_cache.keep(live.db, 5, "card", b"as the live side says")
    assert answer_cache.kept(rebuilt.db, 5, "card") is None
    live.close()
    rebuilt.close()


def test_a_snapshot_reads_one_position_while_the_projector_commits_the_next(tmp_path: Path) -> None:
    side = ReadSide(tmp_path / "read.duckdb")
    _set_position(side, 3)
    with side.cursor() as writer:
        writer.execute("CREATE TABLE things (name VARCHAR)")
        writer.execute("INSERT INTO things VALUES ('first')")
    reader = side.cursor()
    with answer_cache.snapshot(reader) as position:
        before = reader.execute("SELECT count(*) FROM things").fetchone()
        with side.cursor() as writer:  # a batch and its position, committed meanwhile
            writer.execute("BEGIN")
            writer.execute("INSERT INTO things VALUES ('second')")
            writer.execute("UPDATE projection_positions SET position = 4 WHERE name = ?", [READ_SIDE])
            writer.execute("COMMIT")
        after = reader.execute("SELECT count(*) FROM things").fetchone()
    assert (position, before, after) == (3, (1,), (1,))
    with answer_cache.snapshot(reader) as position:
        assert (position, reader.execute("SELECT count(*) FROM things").fetchone()) == (4, (2,))
    reader.close()
    side.close()


def test_answers_beyond_the_byte_budget_start_the_position_over(tmp_path: Path, monkeypatch) -> None:
    side = ReadSide(tmp_path / "read.duckdb")
    monkeypatch.setattr(answer_cache, "MAX_BYTES", 10)
    answer_cache.keep(side.db, 1, "a", b"123456")
    answer_cache.keep(side.db, 1, "b", (b"12", 3))
    answer_cache.keep(side.db, 1, "c", b"12345")  # 6 + 2 + 5 > 10: a, b dropped
    assert [answer_cache.kept(side.db, 1, k) for k in "abc"] == [None, None, b"12345"]
    side.close()


def test_readers_asking_at_once_share_one_computation_and_its_refusal(tmp_path: Path) -> None:
    side, runs = ReadSide(tmp_path / "read.duckdb"), []

    async def compute(answer: object) -> object:
        runs.append(answer)
        await asyncio.sleep(0.01)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def readers() -> list[object]:
        boards = [answer_cache.once(side.db, 3, "board", lambda: compute(b"board")) for _ in range(5)]
        missing = [answer_cache.once(side.db, 3, "gone", lambda: compute(LookupError("no such pipeline"))) for _ in range(3)]
        return await asyncio.gather(*boards, *missing, return_exceptions=True)

    answers = asyncio.run(readers())
    assert answers[:5] == [b"board"] * 5
    assert [str(a) for a in answers[5:]] == ["no such pipeline"] * 3
    assert len(runs) == 2
    side.close()


def test_a_reader_that_goes_away_leaves_the_computation_to_the_others(tmp_path: Path) -> None:
    side = ReadSide(tmp_path / "read.duckdb")

    async def compute() -> bytes:
        await asyncio.sleep(0.02)
        return b"card"

    async def readers() -> object:
        first = asyncio.ensure_future(answer_cache.once(side.db, 3, "card", compute))
        second = asyncio.ensure_future(answer_cache.once(side.db, 3, "card", compute))
        await asyncio.sleep(0.005)
        first.cancel()
        return await second

    assert asyncio.run(readers()) == b"card"
    side.close()


def test_the_first_read_after_a_batch_lets_go_of_the_older_answers(tmp_path: Path) -> None:
    side = ReadSide(tmp_path / "read.duckdb")
    answer_cache.keep(side.db, 7, "card", b"a name since forgotten")
    assert answer_cache.kept(side.db, 8, "board") is None
    assert answer_cache.kept(side.db, 7, "card") is None  # gone from memory, not only from answers
    side.close()
