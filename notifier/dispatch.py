"""Pure pieces of a broadcast: cutting a cover into chunks, encoding them for the database."""

from collections.abc import Iterable, Sequence

from geo.regions import CellRange


def cut_ranges(ranges: Sequence[CellRange], cuts: Iterable[int]) -> list[list[CellRange]]:
    """Cut a cover (sorted, disjoint ranges) into consecutive chunks, each ending at a cut:
    chunk k holds the ids in (cut k-1, cut k], and the last one the ids above every cut.

    The cuts are the cells of every n-th expected recipient in cell order, so chunks carry
    about n recipients each however unevenly devices are spread. Empty chunks are left out;
    without cuts, one chunk holds the whole cover."""
    chunks: list[list[CellRange]] = []
    current: list[CellRange] = []
    pending_cuts = iter(sorted(set(cuts)))
    cut = next(pending_cuts, None)
    for r in ranges:
        lo = r.lo
        while cut is not None and cut < r.hi:
            if cut >= lo:
                current.append(CellRange(lo=lo, hi=cut, inside=r.inside))
                lo = cut + 1
            if current:
                chunks.append(current)
                current = []
            cut = next(pending_cuts, None)
        current.append(CellRange(lo=lo, hi=r.hi, inside=r.inside))
    if current:
        chunks.append(current)
    return chunks


def encode_ranges(ranges: Sequence[CellRange]) -> list[list[int]]:
    return [[r.lo, r.hi, int(r.inside)] for r in ranges]


def decode_ranges(encoded: Sequence[Sequence[int]]) -> list[CellRange]:
    return [CellRange(lo=lo, hi=hi, inside=bool(inside)) for lo, hi, inside in encoded]
