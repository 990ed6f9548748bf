"""Timelines against the real poll core, store and pipeline: no change missed, none emitted twice.

Scripted timelines show each hazard on its own (records stamped in the future and vendor clocks
ahead or behind included); Hypothesis then generates many timelines mixing them.
``COMPONENT_SLOW_TESTS=1`` runs thousands instead of a couple of hundred.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from component.triggers.core import FUTURE_SKEW
from component.triggers.markers import NS, to_ns
from tests.servers import PostgresServer
from tests.trigger_timeline import Harness, capped_catalog, small_page_catalog

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
TIMELINES = 5000 if SLOW else 200
RAN = {"timelines": 0}


CATALOGS = {size: small_page_catalog(size) for size in range(1, 6)}


@pytest.fixture(scope="module")
def catalog3() -> Any:
    return CATALOGS[3]


@pytest.fixture(scope="module")
def fast_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder in memory where there is one (SQLite's fsyncs cost nothing there)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(dir=shm, prefix="triggers-"))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("timelines")


@pytest.fixture(scope="module")
def postgres_database(postgres_server: PostgresServer) -> str:
    return postgres_server.database()


def harness(catalog: Any, folder: Path, **inputs: Any) -> Harness:
    return Harness(
        catalog, Path(tempfile.mkdtemp(dir=folder)) / "state.db", {"resourceType": "jobs", **inputs}
    )


def types(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["id"]) for e in events]


def test_first_poll_records_a_start_and_fires_nothing(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir)
    h.vendor.insert(5)
    h.advance(1)
    assert h.poll() == "polled"
    assert h.delivered == []
    assert h.vendor.list_requests == 1  # the starting point is the clock; one request checks the connection
    h.advance(10)
    new = h.vendor.insert(2)
    h.poll()
    assert types(h.delivered) == [("created", str(i)) for i in new]
    h.poll()
    assert len(h.delivered) == 2
    assert h.problems() == []


def test_a_burst_sharing_one_timestamp_crosses_page_and_poll_boundaries(
    catalog3: Any, fast_dir: Path
) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(5)
    first = h.vendor.insert(7)  # seven records, one timestamp, pages of three
    h.poll()
    assert sorted(e["id"] for e in h.delivered) == sorted(str(i) for i in first)
    second = h.vendor.insert(4)  # the clock has not moved: the same timestamp as the watermark
    h.poll()
    assert sorted(e["id"] for e in h.delivered[7:]) == sorted(str(i) for i in second)
    h.poll()
    assert len(h.delivered) == 11
    assert h.problems() == []


def test_an_update_after_the_watermark_fires_again_as_updated(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir)
    (old,) = h.vendor.insert(1)
    h.advance(1)
    h.poll()
    h.advance(1)
    (new,) = h.vendor.insert(1)
    h.poll()
    h.advance(120)
    h.vendor.update(new)
    h.vendor.update(old)
    h.poll()
    assert types(h.delivered) == [("created", str(new)), ("updated", str(old)), ("updated", str(new))]
    assert h.problems() == []


def test_show_new_and_show_updated_choose_what_fires(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir, showNew=False)
    (old,) = h.vendor.insert(1)
    h.advance(1)
    h.poll()
    h.advance(1)
    h.vendor.insert(1)
    h.vendor.update(old)
    h.poll()
    assert types(h.delivered) == [("updated", str(old))]


def test_a_late_arrival_inside_the_overlap_still_fires_once(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(100)
    h.vendor.insert(2)
    h.poll()
    (late,) = h.vendor.insert(1, late_by=45)  # stamped 45 s ago, visible only now (overlap is 60 s)
    h.poll()
    h.poll()
    assert [e["id"] for e in h.delivered].count(str(late)) == 1
    assert h.problems() == []


def test_a_crash_between_fetch_and_commit_repeats_the_poll_not_the_events(
    catalog3: Any, fast_dir: Path
) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(1)
    ids = h.vendor.insert(4)
    assert h.poll(fail=True) == "crashed"
    assert h.delivered == []
    assert h.poll() == "polled"
    assert [e["id"] for e in h.delivered] == [str(i) for i in ids]
    assert h.problems() == []


def test_two_pollers_at_once_emit_once(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(1)
    h.vendor.insert(5)
    assert sorted(h.race()) == ["busy", "polled"]
    assert len(h.delivered) == 5
    assert h.problems() == []


def test_a_crashed_pollers_lease_runs_out(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(1)
    h.vendor.insert(1)
    h.abandon_lease()
    assert h.poll() == "busy"
    h.advance(h.ttl + 1)
    assert h.poll() == "polled"
    assert len(h.delivered) == 1


def test_records_changed_between_pages_cannot_slip_past_a_boundary(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(1)
    ids = []
    for _ in range(4):
        ids += h.vendor.insert(2)
        h.advance(1)
    # After the first page is read, its records are updated: with page numbers, unread records
    # would shift onto the page already read. Asking again from the last marker cannot skip them.
    h.vendor.between_pages.extend([lambda: None, lambda: [h.vendor.update(i) for i in ids[:3]]])
    h.poll()
    assert {e["id"] for e in h.delivered} == {str(i) for i in ids}
    h.poll()
    assert h.problems() == []


def test_a_run_sharing_one_marker_is_read_again_when_it_shifts_mid_poll(fast_dir: Path) -> None:
    """Three records share the watermark's marker, pages of one: a run read by page number. Record 1
    changes before page 1 is answered, record 2 (read on page 1) before page 2: record 3 moves onto
    page 1, already read. Seeing record 2 again with a newer marker, the reader reads the run again.
    Record 2 fires once, as it was read last."""
    h = harness(CATALOGS[1], fast_dir)
    first = h.vendor.insert(3)
    h.poll()
    h.advance(61)
    h.vendor.between_pages.extend([lambda: h.vendor.update(first[0]), lambda: h.vendor.update(first[1])])
    h.poll()
    one, two, three = (str(i) for i in first)
    assert sorted(types(h.delivered)) == [("created", one), ("created", two), ("created", three)]
    h.advance(121)
    h.poll()
    assert h.problems() == []


def test_look_back_fires_past_changes_on_the_first_poll(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir, lookBack="2027-01-01")
    ids = h.vendor.insert(4)
    h.poll()
    assert types(h.delivered) == [("created", str(i)) for i in ids]
    assert h.problems() == []


def test_technicians_have_no_sort_and_are_read_in_full(catalog3: Any, fast_dir: Path) -> None:
    h = harness(catalog3, fast_dir, resourceType="technicians")
    h.poll()
    h.advance(1)
    ids = h.vendor.insert(5)
    h.poll()
    assert [e["id"] for e in h.delivered] == [str(i) for i in ids]
    assert all("sort" not in str(r) for r in [])  # documented: technicians list takes no sort
    assert h.problems() == []


def test_an_instance_keeps_its_place_when_the_definition_is_republished(
    catalog3: Any, fast_dir: Path
) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(1)
    h.vendor.insert(2)
    h.poll()
    h.catalog = small_page_catalog(5)  # a new version of the definition, same instance id
    h.advance(1)
    h.vendor.insert(1)
    h.poll()
    assert len(h.delivered) == 3
    assert h.problems() == []


# --- records stamped in the future, vendor clocks ahead and behind ---------------------------------------

YEAR_9999 = to_ns("9999-12-31T00:00:00Z") or 0


def state_of(h: Harness) -> dict[str, Any]:
    state = h.store().load(h.instance)
    assert state is not None
    return state


def test_a_record_stamped_in_the_year_9999_fires_once_and_freezes_nothing(
    catalog3: Any, fast_dir: Path
) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(5)
    (future,) = h.vendor.insert(1, at_ns=YEAR_9999)
    h.poll()
    assert types(h.delivered) == [("created", str(future))]
    assert (to_ns(state_of(h)["watermark"]) or 0) < YEAR_9999  # handled, remembered, not adopted
    for _ in range(3):  # every later change still fires, and the future record never again
        h.advance(30)
        new = h.vendor.insert(2)
        h.poll()
        assert types(h.delivered)[-2:] == [("created", str(i)) for i in new]
    assert [e["id"] for e in h.delivered].count(str(future)) == 1
    assert (to_ns(state_of(h)["watermark"]) or 0) <= int(h.clock.wall() * NS) + int(FUTURE_SKEW * NS)
    assert h.problems() == []


def test_a_future_record_changed_again_fires_again_even_stamped_earlier(
    catalog3: Any, fast_dir: Path
) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(5)
    (future,) = h.vendor.insert(1, at_ns=YEAR_9999)
    (ahead,) = h.vendor.insert(1, late_by=-3600)  # an hour ahead: ages into the window later
    h.poll()
    h.advance(5)
    h.vendor.update(future)  # the vendor stamps the correction with its real clock: earlier
    h.vendor.update(ahead)
    h.poll()
    assert types(h.delivered) == [
        ("created", str(ahead)),
        ("created", str(future)),
        ("updated", str(future)),
        ("updated", str(ahead)),
    ]
    h.poll()
    assert len(h.delivered) == 4
    assert h.problems() == []


def test_a_marker_exactly_at_the_bound_becomes_the_watermark_one_beyond_does_not(
    catalog3: Any, fast_dir: Path
) -> None:
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(5)
    bound = int(h.clock.wall() * NS) + int(FUTURE_SKEW * NS)
    assert bound % 100_000 == 0  # on the fake vendor's grid, so the record is stamped exactly there
    (at,) = h.vendor.insert(1, at_ns=bound)
    (beyond,) = h.vendor.insert(1, at_ns=bound + 100_000)
    h.poll()
    assert types(h.delivered) == [("created", str(at)), ("created", str(beyond))]
    state = state_of(h)
    assert to_ns(state["watermark"]) == bound
    assert set(state["recent"]) == {str(at), str(beyond)}
    h.poll()
    assert len(h.delivered) == 2
    assert h.problems() == []


def test_a_record_stamped_a_little_ahead_of_the_vendors_clock_hides_nothing(
    catalog3: Any, fast_dir: Path
) -> None:
    """With the watermark allowed past the poll's clock, this record (2 minutes ahead of a vendor
    clock in step with ours) would become it, and the next change, stamped 10 s later, fall before
    the next poll's start."""
    h = harness(catalog3, fast_dir)
    h.poll()
    h.advance(5)
    (ahead,) = h.vendor.insert(1, late_by=-120)
    h.poll()
    h.advance(10)
    (after,) = h.vendor.insert(1)
    h.poll()
    assert types(h.delivered) == [("created", str(ahead)), ("created", str(after))]
    h.advance(200)
    h.poll()
    assert len(h.delivered) == 2 and h.problems() == []


def test_a_version_stamped_earlier_than_the_last_one_still_fires(catalog3: Any, fast_dir: Path) -> None:
    """The vendor's clock 3 s behind ours; a record stamped 1 s ahead of it (a server of the vendor
    whose clock runs ahead) is not in our future and becomes the watermark. Its next change, half a
    second later, is stamped earlier than that: another version all the same."""
    h = harness(catalog3, fast_dir)
    h.vendor.offset = -3
    h.poll()
    h.advance(70)
    (ahead,) = h.vendor.insert(1, late_by=-1)
    h.poll()
    h.advance(0.5)
    h.vendor.update(ahead)
    h.poll()
    assert types(h.delivered) == [("created", str(ahead)), ("updated", str(ahead))]
    h.advance(100)
    h.poll()
    assert len(h.delivered) == 2 and h.problems() == []


@pytest.mark.parametrize("offset", [-120.0, -60.0, -3.0, 3.0, 120.0, 300.0])
def test_a_vendor_clock_a_little_ahead_or_behind_loses_nothing(
    catalog3: Any, fast_dir: Path, offset: float
) -> None:
    h = harness(catalog3, fast_dir)
    h.vendor.offset = offset
    h.poll()
    h.advance(abs(offset) + 60)  # late arrivals too are past the start, whichever clock is behind
    for step in range(6):
        h.vendor.insert(2)
        h.advance(0.5 if step % 2 else 20)
        if step % 3 == 0:
            h.vendor.insert(1, late_by=40)  # a late arrival inside the overlap
        h.poll()
    assert len(h.delivered) == 14
    assert h.problems() == []


def test_records_from_a_clock_far_ahead_age_into_the_window_and_the_state_stays_bounded(
    catalog3: Any, fast_dir: Path
) -> None:
    """A vendor clock 20 minutes ahead: its records are in the future for 20 minutes, then ordinary."""
    h = harness(catalog3, fast_dir)
    h.vendor.offset = 1200
    h.poll()
    sizes = []
    for _ in range(40):  # an hour: two records a minute and a half, a poll each time
        h.advance(90)
        h.vendor.insert(2)
        h.poll()
        sizes.append(len(state_of(h)["recent"]))
    assert len(h.delivered) == 80
    assert h.problems() == []
    # 20 minutes of future records, the 60 s overlap and the watermark's batch: at most 15 batches
    # of two, and it stops growing once the first records age in
    assert max(sizes) <= 30 and max(sizes[20:]) == max(sizes[:20])
    watermark = to_ns(state_of(h)["watermark"]) or 0
    assert int(h.clock.wall() * NS) - 90 * NS < watermark <= int(h.clock.wall() * NS)
    h.vendor.offset = 0  # its clock is corrected: polls go on, the future pairs age out of the state
    h.advance(1300)
    h.vendor.insert(1)
    h.poll()
    h.advance(10)
    h.poll()
    assert len(state_of(h)["recent"]) == 1
    assert h.problems() == []


# --- generated timelines ------------------------------------------------------------------------------

# Seconds ahead of the vendor's own clock (inf: the year 9999), and the vendor's clock against ours:
# at most the overlap (60 s) behind, the bound of the guarantee (README, Polling triggers).
FUTURE = [1.0, 59.0, 61.0, 120.0, 299.0, 301.0, 3600.0, 100 * 365 * 86400.0, float("inf")]
CLOCKS = [0.0, 0.0, -60.0, -3.0, 3.0, 120.0, 301.0, 1200.0]

STEP = st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 7)),  # a burst of records sharing one timestamp
    st.tuples(st.just("update"), st.integers(0, 10_000)),
    st.tuples(st.just("late"), st.integers(1, 55)),  # stamped up to 55 s in the past (overlap 60 s)
    st.tuples(st.just("advance"), st.sampled_from([0, 0.0001, 1, 30, 61, 300])),
    st.tuples(st.just("poll"), st.just(0)),
    st.tuples(st.just("crash"), st.just(0)),
    st.tuples(st.just("race"), st.just(0)),
    st.tuples(st.just("abandon"), st.just(0)),
    st.tuples(st.just("between_pages"), st.integers(0, 10_000)),
    st.tuples(st.just("future"), st.sampled_from(FUTURE)),  # stamped ahead of the vendor's own clock
)


def run_timeline(h: Harness, steps: list[tuple[str, float]]) -> None:
    h.vendor.insert(3)  # records from before the trigger started
    h.poll()
    for action, arg in steps:
        ids = sorted(h.vendor.records)
        if action == "insert":
            h.vendor.insert(int(arg))
        elif action == "update":
            h.vendor.update(ids[int(arg) % len(ids)])
        elif action == "late":
            h.advance(arg)  # never stamp before the start
            h.vendor.insert(1, late_by=arg)
        elif action == "advance":
            h.advance(arg)
        elif action == "poll":
            h.poll()
        elif action == "crash":
            h.poll(fail=True)
        elif action == "race":
            h.race()
        elif action == "abandon":
            h.abandon_lease()
        elif action == "future":
            h.vendor.insert(1, at_ns=YEAR_9999 if arg == float("inf") else None, late_by=-arg)
        elif action == "between_pages":
            chosen = ids[int(arg) % len(ids)]
            h.vendor.between_pages.append(lambda chosen=chosen: h.vendor.update(chosen))  # type: ignore[misc]
    h.vendor.between_pages.clear()
    h.advance(h.ttl + 1)  # any abandoned lease runs out
    assert h.poll() == "polled"


@settings(
    max_examples=TIMELINES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(STEP, max_size=30),
    page_size=st.integers(1, 5),
    resource=st.sampled_from(["jobs", "jobs", "technicians"]),
    vendor_clock=st.sampled_from(CLOCKS),
)
def test_generated_timelines_miss_nothing_and_repeat_nothing(
    fast_dir: Path, steps: list[tuple[str, float]], page_size: int, resource: str, vendor_clock: float
) -> None:
    """Any mix of the hazards, with the vendor's clock ahead of or behind the poller's."""
    RAN["timelines"] += 1
    db = Path(tempfile.mkdtemp(dir=fast_dir)) / "state.db"
    h = Harness(CATALOGS[page_size], db, {"resourceType": resource})
    h.vendor.offset = vendor_clock
    try:
        run_timeline(h, steps)
        assert h.problems() == []
    finally:
        h.restart()


@settings(
    max_examples=TIMELINES // 4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(STEP, max_size=30),
    page_size=st.integers(1, 5),
    resource=st.sampled_from(["jobs", "jobs", "technicians"]),
)
def test_generated_timelines_hold_on_postgresql(
    postgres_database: str, steps: list[tuple[str, float]], page_size: int, resource: str
) -> None:
    """The same property against the PostgreSQL store (a fresh instance id per timeline)."""
    RAN["timelines"] += 1
    h = Harness(
        CATALOGS[page_size],
        Path("unused.db"),
        {"resourceType": resource},
        instance=f"flow-{uuid.uuid4().hex}",
        store_url=postgres_database,
    )
    try:
        run_timeline(h, steps)
        assert h.problems() == []
    finally:
        h.restart()


def test_timeline_count_is_reported() -> None:
    """Runs after the property test in file order; the count appears in the test report."""
    if RAN["timelines"]:
        print(f"\n{RAN['timelines']} generated trigger timelines ran")


# --- lists cut short at a cap (Homebase360 jobs: at most 100 an answer, no paging) ------------------

HB_CATALOGS = {limit: capped_catalog(limit) for limit in range(2, 6)}
DAY_NS = 86_400 * NS


def capped_harness(catalog: Any, folder: Path, trigger: str = "homebase360.newJob") -> Harness:
    db = Path(tempfile.mkdtemp(dir=folder)) / "state.db"
    return Harness(catalog, db, {"daysBack": 0, "daysAhead": 0}, trigger=trigger)


def today_ns(h: Harness) -> int:
    now = int(h.clock.wall() * NS)
    return now - now % DAY_NS


def test_hundreds_of_jobs_a_day_past_the_real_cap_fire_once_each(fast_dir: Path) -> None:
    """500 jobs a day against the vendor's cap of 100, added in bursts between polls: every one fires."""
    from component import catalog as catalog_module
    from tests.conftest import ROOT

    h = capped_harness(catalog_module.load(ROOT), fast_dir)
    day = today_ns(h)
    h.vendor.starts = [day + (i * 7919 % 500) * 172 * NS for i in range(500)]  # spread over the day
    h.vendor.insert(100)  # there before the trigger started: they never fire
    h.advance(1)
    h.poll()
    for _ in range(4):
        h.advance(30)
        h.vendor.insert(100)
        h.poll()
    h.poll()
    assert len(h.delivered) == 400
    assert h.incomplete == []
    assert h.created_problems() == []
    assert h.vendor.list_requests > 10  # a full day came back full and was split


def test_a_steady_poll_cuts_the_window_where_the_last_one_ended_and_misses_nothing(fast_dir: Path) -> None:
    """The parts read whole are remembered (neighbours merged up to CUT_FILL of the cap): the next
    poll asks for them directly instead of halving the window again from the top."""
    from component import catalog as catalog_module
    from tests.conftest import ROOT

    h = capped_harness(catalog_module.load(ROOT), fast_dir)
    day = today_ns(h)
    h.vendor.starts = [day + (i * 7919 % 1000) * 86 * NS for i in range(1000)]  # spread over the day
    h.vendor.insert(1000)
    h.advance(1)
    h.poll()  # the start: one request
    costs = []
    for _ in range(3):
        before = h.vendor.list_requests
        h.advance(30)
        h.poll()
        costs.append(h.vendor.list_requests - before)
    assert h.delivered == []
    halving, steady, again = costs
    assert halving >= 2 * (1000 // 100) + 1  # every full part costs a request only to be split
    assert steady == again == (halving + 1) // 2  # the parts read whole, not the splits above them
    assert steady <= 1000 // 50  # about one request per 50 to 75 jobs
    h.vendor.starts = [day + (i * 613 % 1000) * 86 * NS for i in range(150)]
    h.vendor.insert(150)  # some parts now come back full and are split again
    h.advance(30)
    h.poll()
    h.advance(30)
    h.poll()
    assert len(h.delivered) == len({e["id"] for e in h.delivered}) == 150
    assert h.incomplete == [] and h.created_problems() == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    low=st.integers(-(10**18), 10**18),
    width=st.integers(1, 10**15),
    cuts=st.lists(st.integers(-(10**18), 2 * 10**18), max_size=20),
)
def test_the_starting_parts_cover_the_window_end_to_end_whatever_the_cuts(
    low: int, width: int, cuts: list[int]
) -> None:
    from component.triggers.core import starting_parts

    parts = starting_parts((low, low + width), cuts)
    assert parts[0] is not None and parts[0][0] == low
    assert parts[-1] is not None and parts[-1][1] == low + width
    for part, following in itertools.pairwise(parts):
        assert part is not None and following is not None
        assert part[0] < part[1] == following[0] < following[1]  # shared ends: no gap, no overlap
    assert starting_parts(None, cuts) == [None]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(counts=st.lists(st.integers(0, 100), max_size=40), limit=st.integers(1, 100))
def test_merged_parts_stay_under_the_fill_unless_one_alone_is_over(counts: list[int], limit: int) -> None:
    from component.triggers.core import CUT_FILL, next_cuts

    leaves = [(index * 10, count) for index, count in enumerate(counts)]
    cuts = next_cuts(leaves, limit)
    assert cuts == sorted(set(cuts)) and set(cuts) <= {start for start, _ in leaves[1:]}
    ends = [0, *cuts, len(leaves) * 10]
    for start, end in itertools.pairwise(ends):
        inside = [count for at, count in leaves if start <= at < end]
        assert len(inside) == 1 or sum(inside) <= max(1, int(limit * CUT_FILL))


def test_an_answer_cut_anywhere_is_split_until_no_part_is_full(fast_dir: Path) -> None:
    """The cut need not keep the earliest starts (the order is not the vendor's promise)."""
    h = capped_harness(HB_CATALOGS[3], fast_dir)
    h.vendor.unsorted = True
    day = today_ns(h)
    h.poll()
    h.advance(5)
    h.vendor.starts = [day + (17 * i % 40) * 1800 * NS for i in range(40)]
    h.vendor.insert(40)
    h.poll()
    assert len(h.delivered) == 40
    assert h.created_problems() == []


def test_a_full_part_too_narrow_to_split_is_reported_never_passed_over(
    fast_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = capped_harness(HB_CATALOGS[3], fast_dir)
    day = today_ns(h)
    h.poll()
    h.advance(5)
    h.vendor.starts = [day + 9 * 3600 * NS] * 5 + [day + 15 * 3600 * NS] * 2  # five jobs at one instant
    h.vendor.insert(7)
    with caplog.at_level("WARNING", logger="component.triggers"):
        h.poll()
    assert len(h.incomplete) == 1
    part = h.incomplete[0]
    assert part["records"] == 3
    low, high = to_ns(part["window"]["from"]) or 0, to_ns(part["window"]["to"]) or 0
    assert low <= day + 9 * 3600 * NS <= high and high - low <= 2 * NS  # a second each side
    assert caplog.text.count("came back full") == 1 and part["window"]["from"] in caplog.text
    assert sorted(e["id"] for e in h.delivered if e["id"] in {"400006", "400007"}) == ["400006", "400007"]
    assert h.created_problems() == []  # the jobs not read lie in the reported part


def test_updated_jobs_past_the_cap_fire_once_each(fast_dir: Path) -> None:
    h = capped_harness(HB_CATALOGS[2], fast_dir, trigger="homebase360.updatedJob")
    day = today_ns(h)
    h.vendor.starts = [day + i * 600 * NS for i in range(30)]
    ids = h.vendor.insert(30)
    h.advance(5)
    h.poll()
    h.advance(5)
    for rid in ids[::3]:
        h.vendor.update(rid)
    h.poll()
    h.poll()
    assert sorted(e["id"] for e in h.delivered) == sorted(str(rid) for rid in ids[::3])
    assert {e["type"] for e in h.delivered} == {"updated"}


CAPPED_STEP = st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 12), st.integers(0, 2**16)),
    st.tuples(st.just("update"), st.integers(0, 100), st.just(0)),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.0001, 1.0, 30.0, 700.0]), st.just(0)),
    st.tuples(st.just("poll"), st.just(0), st.just(0)),
    st.tuples(st.just("crash"), st.just(0), st.just(0)),
    st.tuples(st.just("race"), st.just(0), st.just(0)),
)


@settings(
    max_examples=TIMELINES // 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(CAPPED_STEP, max_size=25),
    limit=st.integers(2, 5),
    unsorted=st.booleans(),
    slots=st.sampled_from([4, 48, 1440, 86_400]),
)
def test_generated_timelines_past_the_cap_miss_nothing_and_repeat_nothing(
    fast_dir: Path, steps: list[tuple[str, float, int]], limit: int, unsorted: bool, slots: int
) -> None:
    """Bursts of jobs, more than the cap, starting on ``slots`` possible times of the day (4: many
    share a start, so some parts cannot be split and must be reported)."""
    RAN["timelines"] += 1
    h = capped_harness(HB_CATALOGS[limit], fast_dir)
    h.vendor.unsorted = unsorted
    try:
        h.vendor.insert(3)
        h.advance(1)
        h.poll()
        for action, arg, seed in steps:
            day = today_ns(h)
            if action == "insert":
                count = int(arg)
                h.vendor.starts = [
                    day + (seed * (i + 1) * 7919 % slots) * (DAY_NS // slots) for i in range(count)
                ]
                h.vendor.insert(count)
            elif action == "update":
                ids = sorted(h.vendor.records)
                h.vendor.update(ids[int(arg) % len(ids)])
            elif action == "advance":
                h.advance(arg)
            elif action == "poll":
                h.poll()
            elif action == "crash":
                h.poll(fail=True)
            elif action == "race":
                h.race()
        h.advance(h.ttl + 1)
        assert h.poll() == "polled"
        assert h.created_problems() == []
        crowded = Counter(v.start_ns for v in h.vendor.records.values()).most_common(1)[0][1] >= limit
        assert crowded or h.incomplete == []  # only an instant holding a full answer is reported
    finally:
        h.restart()
