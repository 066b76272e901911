"""Pure pieces of a broadcast: cutting a cover into chunk tasks, encoding them for the broker."""

from collections.abc import Sequence

from geo.regions import CellRange

RANGES_PER_CHUNK = 8


def split_ranges(
    ranges: Sequence[CellRange], per_chunk: int = RANGES_PER_CHUNK
) -> list[list[CellRange]]:
    return [list(ranges[i : i + per_chunk]) for i in range(0, len(ranges), per_chunk)]


def encode_ranges(ranges: Sequence[CellRange]) -> list[list[int]]:
    return [[r.lo, r.hi, int(r.inside)] for r in ranges]


def decode_ranges(encoded: Sequence[Sequence[int]]) -> list[CellRange]:
    return [CellRange(lo=lo, hi=hi, inside=bool(inside)) for lo, hi, inside in encoded]
