"""Cutting a broadcast's cover into chunks: every id of the cover lands in exactly one chunk,
in order, with its range's check, and the chunks end at the cuts."""

from hypothesis import given
from hypothesis import strategies as st

from geo.regions import CellRange
from notifier.dispatch import cut_ranges, decode_ranges, encode_ranges

COVER = [
    CellRange(lo=10, hi=19, inside=True),
    CellRange(lo=30, hi=30, inside=False),
    CellRange(lo=40, hi=59, inside=False),
]


def test_without_cuts_one_chunk_holds_the_whole_cover() -> None:
    assert cut_ranges(COVER, []) == [COVER]


def test_a_cut_inside_a_range_splits_it_and_keeps_its_check() -> None:
    assert cut_ranges(COVER, [14, 45]) == [
        [CellRange(10, 14, True)],
        [CellRange(15, 19, True), CellRange(30, 30, False), CellRange(40, 45, False)],
        [CellRange(46, 59, False)],
    ]


def test_cuts_in_gaps_at_range_ends_or_beyond_the_cover_split_between_ranges() -> None:
    assert cut_ranges(COVER, [19, 25, 30, 100]) == [
        [CellRange(10, 19, True)],
        [CellRange(30, 30, False)],
        [CellRange(40, 59, False)],
    ]


def test_repeated_and_unsorted_cuts_count_once() -> None:
    """Many devices in one cell give that cell as several consecutive cuts."""
    assert cut_ranges(COVER, [45, 14, 45, 14]) == cut_ranges(COVER, [14, 45])


def test_cuts_before_the_cover_or_an_empty_cover_make_no_empty_chunks() -> None:
    assert cut_ranges(COVER, [1, 5]) == [COVER]
    assert cut_ranges([], [1, 5]) == []


def test_ranges_survive_the_round_trip_through_json() -> None:
    assert decode_ranges(encode_ranges(COVER)) == COVER


@st.composite
def covers(draw: st.DrawFn) -> list[CellRange]:
    bounds = sorted(draw(st.sets(st.integers(0, 300), min_size=0, max_size=20)))
    ranges = []
    for lo, hi in zip(bounds[::2], bounds[1::2], strict=False):
        ranges.append(CellRange(lo=lo, hi=hi, inside=draw(st.booleans())))
    return ranges


@given(cover=covers(), cuts=st.lists(st.integers(-5, 305), max_size=30))
def test_every_id_is_in_exactly_one_chunk_between_its_cuts(
    cover: list[CellRange], cuts: list[int]
) -> None:
    chunks = cut_ranges(cover, cuts)

    original = {i: r.inside for r in cover for i in range(r.lo, r.hi + 1)}
    placed: dict[int, tuple[int, bool]] = {}
    for index, chunk in enumerate(chunks):
        assert chunk, "no empty chunk"
        for r in chunk:
            assert r.lo <= r.hi
            for i in range(r.lo, r.hi + 1):
                assert i not in placed, "no id in two chunks"
                placed[i] = (index, r.inside)
    assert {i: inside for i, (_, inside) in placed.items()} == original

    ordered = [i for chunk in chunks for r in chunk for i in range(r.lo, r.hi + 1)]
    assert ordered == sorted(ordered), "chunks and their ranges are in id order"
    for cut in set(cuts):
        below = {placed[i][0] for i in placed if i <= cut}
        above = {placed[i][0] for i in placed if i > cut}
        assert not below & above, "no chunk straddles a cut"
    assert len(chunks) <= len(set(cuts)) + 1
