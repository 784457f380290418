"""Train / validation / test splits: deterministic, stratified, and sticky across versions.

Three promises, in order of importance:

1. **No leakage across versions.** An object keeps the split it had in the parent version
   (the build passes those assignments in as ``pinned``), so an image that was in ``test``
   of v=3 is in ``test`` of v=4, v=5... even when later jobs relabel it.
2. **Deterministic.** A split is a function of the set of objects, their sources and the
   seed: never of file order, of a random draw or of the machine. Objects are ordered by a
   64-bit hash of their source (mixed with the seed), and handed to splits in that order.
3. **Stratified.** Within each stratum (the class, for classification) new objects go to
   the split furthest below its share, so every class gets ``ratios`` of its objects,
   counting the pinned ones -- a class with 10 objects at 0.8/0.1/0.1 gets 8/1/1, not
   whatever a coin gives.

Standard library only; memory is a few machine words per object.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections.abc import Mapping, Sequence

from gt_provider.datasets.errors import DatasetError

#: Split names for two or three ratios, in the order ratios are written (``0.8,0.1,0.1``).
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")
DEFAULT_RATIOS: Mapping[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}
#: Row value of an object that takes no part in the split (failed, superseded duplicate).
UNASSIGNED = -1
_MASK64 = (1 << 64) - 1
_ROW_BITS = 32


def parse_ratios(value: str | Sequence[float] | Mapping[str, float]) -> dict[str, float]:
    """``"0.8,0.1,0.1"`` / ``[0.8, 0.2]`` / ``{"train": 0.7, ...}`` -> ``{"train": 0.8, ...}``, checked.

    Ratios must each lie in [0, 1], sum to 1 (within 1e-6), and give ``train`` a positive
    share; names other than train / validation / test are refused so that a typo cannot
    create a split no training job reads.
    """
    if isinstance(value, Mapping):
        ratios = {str(name): value[name] for name in value}
    else:
        parts = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
        if not 2 <= len(parts) <= 3:
            raise DatasetError(f"split ratios: give 2 or 3 values (train,validation[,test]), got {value!r}")
        ratios = dict(zip(SPLIT_NAMES, parts, strict=False))
    checked: dict[str, float] = {}
    for name, raw in ratios.items():
        if name not in SPLIT_NAMES:
            raise DatasetError(f"split ratios: unknown split {name!r}; allowed: {', '.join(SPLIT_NAMES)}")
        try:
            ratio = float(raw)
        except (TypeError, ValueError):
            raise DatasetError(f"split ratios: {name}={raw!r} is not a number") from None
        if not 0.0 <= ratio <= 1.0 or math.isnan(ratio):
            raise DatasetError(f"split ratios: {name}={ratio} is outside [0, 1]")
        checked[name] = ratio
    if abs(sum(checked.values()) - 1.0) > 1e-6:
        raise DatasetError(f"split ratios must sum to 1, got {sum(checked.values()):g} ({_show(checked)})")
    if checked.get("train", 0.0) <= 0.0:
        raise DatasetError(f"split ratios: train must get a positive share ({_show(checked)})")
    return {name: checked[name] for name in SPLIT_NAMES if name in checked}


def source_digest(source: str) -> int:
    """A 64-bit identity of an object's source, independent of the seed (used across versions)."""
    return int.from_bytes(hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def digest_hex(digest: int) -> str:
    return f"{digest:016x}"


class SplitAllocator:
    """Collects objects (row, source digest, stratum, pinned split), then assigns every row a split.

    ``add`` is called once per object in a streaming pass; ``allocate`` returns an array
    indexed by row holding the index of the split in :attr:`names` (or ``UNASSIGNED``).
    """

    def __init__(self, ratios: Mapping[str, float], seed: str = "") -> None:
        self.ratios = parse_ratios(ratios)
        self.names: tuple[str, ...] = tuple(self.ratios)
        self._shares = [self.ratios[name] for name in self.names]
        self._seed_mix = source_digest(f"gt-provider-split-seed\n{seed}") if seed else 0
        self._strata: dict[str, list[int]] = {}
        self._pinned_counts: dict[str, list[int]] = {}
        self._pinned_rows: list[tuple[int, int]] = []
        self._rows = 0

    def add(self, row: int, digest: int, stratum: str = "", pinned: str | None = None) -> None:
        """Register object ``row``; ``pinned`` is the split it had in the parent version, if any."""
        if row >= self._rows:
            if row >= 1 << _ROW_BITS:
                raise DatasetError(f"a dataset holds at most {1 << _ROW_BITS} objects")
            self._rows = row + 1
        keys = self._strata.get(stratum)
        if keys is None:
            keys = self._strata[stratum] = []
        if pinned is not None and pinned in self.ratios:
            index = self.names.index(pinned)
            self._pinned_rows.append((row, index))
            self._pinned_counts.setdefault(stratum, [0] * len(self.names))[index] += 1
            return
        keys.append(((self._order(digest) if self._seed_mix else digest) << _ROW_BITS) | row)

    def add_new(self, stratum: str, rows: Sequence[int], digests: Sequence[int]) -> None:
        """Register objects of ``stratum`` without a pinned split: ``rows``, each of source digest ``digests[row]``.

        What ``add`` does for each, in one step (a million objects in a fraction of a second).
        """
        if not rows:
            return
        top = max(rows)
        if top >= 1 << _ROW_BITS:
            raise DatasetError(f"a dataset holds at most {1 << _ROW_BITS} objects")
        self._rows = max(self._rows, top + 1)
        keys = self._strata.setdefault(stratum, [])
        if self._seed_mix:
            order = self._order
            keys += [(order(digests[row]) << _ROW_BITS) | row for row in rows]
        else:
            keys += [(digests[row] << _ROW_BITS) | row for row in rows]

    def allocate(self, rows: int | None = None) -> array:
        """Split index per row (``array('b')``); rows never added stay ``UNASSIGNED``."""
        result = array("b", [UNASSIGNED]) * max(rows or 0, self._rows)
        for row, index in self._pinned_rows:
            result[row] = index
        row_mask = (1 << _ROW_BITS) - 1
        zeros = [0] * len(self.names)
        # Which split the k-th new object of a stratum gets depends only on k and the stratum's
        # pinned counts: strata that start alike share one sequence, as long as the longest.
        starts = {stratum: tuple(self._pinned_counts.get(stratum, zeros)) for stratum in self._strata}
        lengths: dict[tuple[int, ...], int] = {}
        for stratum, keys in self._strata.items():
            lengths[starts[stratum]] = max(lengths.get(starts[stratum], 0), len(keys))
        sequences = {pinned: self._sequence(pinned, length) for pinned, length in lengths.items()}
        for stratum, keys in self._strata.items():
            keys.sort()
            for key, index in zip(keys, sequences[starts[stratum]], strict=False):
                result[key & row_mask] = index
        return result

    def _sequence(self, pinned: tuple[int, ...], length: int) -> array:
        """Split indexes for ``length`` new objects: each goes to the split furthest below its share
        once it is placed (the first such split on ties), counting ``pinned`` objects as placed."""
        shares = list(enumerate(self._shares))
        counts = list(pinned)
        placed = sum(counts)
        sequence = array("b", bytes(length))
        for position in range(length):
            placed += 1
            best, best_gap = 0, -math.inf
            for index, share in shares:
                gap = share * placed - counts[index]
                if gap > best_gap + 1e-12:
                    best, best_gap = index, gap
            counts[best] += 1
            sequence[position] = best
        return sequence

    def _order(self, digest: int) -> int:
        """The seeded position of a digest (splitmix64's finalizer): a new seed, a new order."""
        if not self._seed_mix:
            return digest
        x = digest ^ self._seed_mix
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        return x ^ (x >> 31)


def _show(ratios: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={ratio:g}" for name, ratio in ratios.items())
