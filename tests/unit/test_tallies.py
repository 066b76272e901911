"""The device tally's arithmetic: which cells a preview may sum, and how the window's first
hour is counted. A device must be counted once: from a tally cell or one by one, never both."""

from datetime import UTC, datetime, timedelta, timezone

import h3
from hypothesis import given
from hypothesis import strategies as st

from geo.regions import CellRange, Circle, cover_circle, device_cell
from geo.tallies import (
    TALLY_RESOLUTIONS,
    bucket_start,
    partial_bucket_share,
    span,
    split_for_tallies,
)

PARIS = (48.8566, 2.3522)


def _pieces(ranges: list[CellRange]) -> list[tuple[int, int]]:
    split = split_for_tallies(ranges)
    return sorted([(b.lo, b.hi) for b in split.blocks] + [(r.lo, r.hi) for r in split.leftovers])


@given(
    st.lists(
        st.tuples(st.integers(0, 1 << 40), st.integers(0, 1 << 36)), min_size=1, max_size=8
    ).map(lambda pairs: sorted({(lo, lo + length) for lo, length in pairs}, key=lambda p: p[0]))
)
def test_tally_blocks_and_leftovers_cover_each_range_exactly_once(
    bounds: list[tuple[int, int]],
) -> None:
    disjoint: list[CellRange] = []
    for lo, hi in bounds:
        if disjoint and lo <= disjoint[-1].hi:
            continue
        disjoint.append(CellRange(lo, hi, inside=True))

    pieces = _pieces(disjoint)

    rebuilt: list[tuple[int, int]] = []
    for lo, hi in pieces:
        if rebuilt and rebuilt[-1][1] + 1 == lo:
            rebuilt[-1] = (rebuilt[-1][0], hi)
        else:
            rebuilt.append((lo, hi))
    merged: list[tuple[int, int]] = []
    for r in disjoint:
        if merged and merged[-1][1] + 1 == r.lo:
            merged[-1] = (merged[-1][0], r.hi)
        else:
            merged.append((r.lo, r.hi))
    assert rebuilt == merged
    for block in split_for_tallies(disjoint).blocks:
        size = span(block.resolution)
        assert block.lo % size == 0 and (block.hi + 1) % size == 0, "whole tally cells only"
    finest = span(max(TALLY_RESOLUTIONS))
    for left in split_for_tallies(disjoint).leftovers:
        whole_cell = -(-left.lo // finest) * finest
        assert whole_cell + finest - 1 > left.hi, "a leftover never holds a whole tally cell"


def test_a_devices_tally_cell_is_its_ancestor_at_the_tally_resolution() -> None:
    """The refresh groups devices by `h3_cell & -span`: that must be the first resolution-15
    id of the device's ancestor, the id the preview's blocks are cut by."""
    for lat, lon in [PARIS, (-33.8688, 151.2093), (71.2906, -156.7886), (-0.5, 179.99)]:
        cell = device_cell(lat, lon)
        for resolution in TALLY_RESOLUTIONS:
            ancestor = h3.cell_to_parent(h3.int_to_str(cell), resolution)
            first = h3.str_to_int(h3.cell_to_center_child(ancestor, 15))
            assert cell & -span(resolution) == first


def test_a_large_circle_is_mostly_tally_cells_and_a_small_one_has_none() -> None:
    inside = [r for r in cover_circle(Circle(*PARIS, 300_000)) if r.inside]
    split = split_for_tallies(inside)
    in_blocks = sum(b.hi - b.lo + 1 for b in split.blocks)
    in_leftovers = sum(r.hi - r.lo + 1 for r in split.leftovers)
    assert {b.resolution for b in split.blocks} == set(TALLY_RESOLUTIONS)
    assert in_blocks > 20 * in_leftovers

    small = [r for r in cover_circle(Circle(*PARIS, 2_000)) if r.inside]
    assert split_for_tallies(small).blocks == []


def test_the_windows_first_hour_counts_for_the_part_after_the_windows_start() -> None:
    assert partial_bucket_share(datetime(2026, 11, 23, 10, 15, tzinfo=UTC)) == 0.75
    assert partial_bucket_share(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) == 1.0
    india = timezone(timedelta(hours=5, minutes=30))
    # 10:15 in UTC+05:30 is 04:45 UTC: hours are UTC hours.
    assert bucket_start(datetime(2026, 11, 23, 10, 15, tzinfo=india)) == datetime(
        2026, 11, 23, 4, tzinfo=UTC
    )
    assert partial_bucket_share(datetime(2026, 11, 23, 10, 15, tzinfo=india)) == 0.25
