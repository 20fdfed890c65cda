"""The ledger kept compactly: one month's cells as columns, and the sums derived from them.

Every on-demand event is summed into a cell per ``(UTC day, user, model, max mode)``
(:class:`~billing_reports.usage.OnDemandUsage`). A big team's month holds hundreds of
thousands of cells, nearly one per two events: as a dict of tuples each would take about
400 bytes, and every per-month, per-user and per-day figure of the reports would be summed
from them again. So a month's cells are kept here as columns of machine integers
(``array('q')``, about 100 bytes a cell, and pickled between processes as plain memory),
users and models coded by number within the month; and the sums the reports read (per
``(user, model)``, per day, per ``(user, day)``, per ``(model, day)``) are derived from
them once, by the process that decoded the month (:func:`derive_sums`), not at report time.

:class:`CellsBuilder` is what the loader sums events into; :class:`MonthCells` what it
makes of a month (a read-only mapping ``key -> [charged, requests, ...]``, as the careful
path's dict of cells); :class:`Ledger` the months of a report as one mapping
``key -> UsageTotals`` (``OnDemandUsage.ledger``).
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import add, and_, itemgetter, lshift, mul, not_, or_, rshift, sub
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .model_prices import PriceEvidence
from .usage import LedgerKey, UsageTotals

#: The sums of a cell, in the order of ``UsageTotals``: charged, requests, input, output,
#: cache write, cache read, list cost, token fee.
SUM_COUNT = len(UsageTotals._fields)
#: A cell's packed key: ``((user << MODEL_BITS | model) << 6) | day offset << 1 | max mode``
#: (a month has at most 31 days: 5 bits). Users and models are numbered within a month.
MODEL_BITS = 32
_DAY_BITS = 6
_MODEL_MASK = (1 << MODEL_BITS) - 1

#: A column of integers: machine integers when every value fits in 64 bits, else (an absurd
#: sum) a list of Python integers.
Column = Sequence[int]


def int_column(values: Iterable[int]) -> Column:
    """``values`` as ``array('q')``, or as a list where one does not fit in 64 bits."""
    values = values if isinstance(values, (list, array)) else list(values)
    try:
        return array("q", values)
    except OverflowError:
        return list(values)


class CellsBuilder:
    """One month's cells while events are summed into them.

    The loader's typed loop works on these containers directly (a method call per event
    would cost more than the sums): ``users``/``models`` code names, ``rows`` maps a
    packed key (:meth:`key`) to its row in ``keys`` and the ``sums`` columns. The columns
    are ``array('q')``; a sum that leaves 64 bits raises ``OverflowError`` out of the
    update (never half-applied by :meth:`add`), and the caller starts again ``wide``
    (Python integers).
    """

    __slots__ = ("first_day", "wide", "users", "models", "rows", "keys", "sums")

    def __init__(self, first_day: int, *, wide: bool = False) -> None:
        #: The month's first UTC day (days since 1970-01-01): keys hold the offset from it.
        self.first_day = first_day
        self.wide = wide
        self.users: dict[str, int] = {}
        self.models: dict[str, int] = {}
        self.rows: dict[int, int] = {}
        self.keys: list[int] = []
        self.sums: list[Any] = [[] if wide else array("q") for _ in range(SUM_COUNT)]

    def user_code(self, user: str) -> int:
        code = self.users.get(user)
        if code is None:
            code = self.users[user] = len(self.users)
        return code

    def model_code(self, model: str) -> int:
        code = self.models.get(model)
        if code is None:
            code = len(self.models)
            if code > _MODEL_MASK:
                raise OverflowError("more models in a month than a packed key holds")
            self.models[model] = code
        return code

    def key(self, key: LedgerKey) -> int:
        """The packed key of ``(day, user, model, max mode)``; ``day`` must lie in the month."""
        day, user, model, max_mode = key
        offset = day - self.first_day
        if not 0 <= offset < 32:
            raise ValueError(f"day {day} is not in the month of day {self.first_day}")
        return ((self.user_code(user) << MODEL_BITS | self.model_code(model)) << _DAY_BITS
                | offset << 1 | (max_mode is True))

    def add(self, key: LedgerKey, sums: Sequence[int]) -> None:
        """Add one event's (or cell's) ``sums`` to the cell of ``key``."""
        self.add_packed(self.key(key), sums)

    def add_packed(self, packed: int, sums: Sequence[int]) -> None:
        row = self.rows.get(packed)
        if row is None:
            if not self.wide:
                for value in sums:  # (checked first: a row is never half-appended)
                    if not -(1 << 63) <= value < 1 << 63:
                        raise OverflowError("a sum beyond 64 bits")
            self.rows[packed] = len(self.keys)
            self.keys.append(packed)
            for column, value in zip(self.sums, sums):
                column.append(value)
            return
        columns = self.sums
        added = [column[row] + value for column, value in zip(columns, sums)]
        if not self.wide:
            for value in added:
                if not -(1 << 63) <= value < 1 << 63:
                    raise OverflowError("a sum beyond 64 bits")
        for column, value in zip(columns, added):
            column[row] = value

    def add_cells(self, cells: "MonthCells") -> None:
        """Add every cell of ``cells`` (another part of the same month)."""
        users = [self.user_code(user) for user in cells.users]
        models = [self.model_code(model) for model in cells.models]
        first_day = self.first_day
        for user, model, day, max_mode, *sums in zip(cells.user, cells.model, cells.day, cells.max_mode,
                                                     *cells.columns):
            self.add_packed((users[user] << MODEL_BITS | models[model]) << _DAY_BITS | (day - first_day) << 1
                            | max_mode, sums)

    def finish(self) -> "MonthCells":
        keys = self.keys
        user_model = list(map(rshift, keys, repeat(_DAY_BITS)))
        day_offsets = map(and_, map(rshift, keys, repeat(1)), repeat(31))
        return MonthCells(
            users=list(self.users),
            models=list(self.models),
            day=array("q", map(int.__add__, day_offsets, repeat(self.first_day))),
            user=array("q", map(rshift, user_model, repeat(MODEL_BITS))),
            model=array("q", map(and_, user_model, repeat(_MODEL_MASK))),
            max_mode=array("b", map(and_, keys, repeat(1))),
            sums=[column if isinstance(column, array) else int_column(column) for column in self.sums],
        )


class MonthCells(Mapping[LedgerKey, list]):
    """One month's ledger cells as columns: ``(day, user, model, max mode) -> [charged,
    requests, input, output, cache write, cache read, list cost, token fee]`` when read as
    a mapping (each look-up makes the list anew: the columns are the cells).

    ``user``/``model`` hold codes into ``users``/``models``. :meth:`sums` are the sums the
    reports read, derived once.
    """

    __slots__ = ("users", "models", "day", "user", "model", "max_mode", "columns", "_index", "_sums")

    def __init__(self, *, users: list[str], models: list[str], day: Column, user: Column, model: Column,
                 max_mode: Column, sums: list[Column], derived: "MonthSums | None" = None) -> None:
        self.users = users
        self.models = models
        self.day = day
        self.user = user
        self.model = model
        self.max_mode = max_mode
        #: The eight sums, one column each (the order of ``UsageTotals``).
        self.columns = sums
        self._index: dict[LedgerKey, int] | None = None
        self._sums = derived

    def __reduce__(self) -> tuple:
        return (_rebuild_cells, (self.users, self.models, self.day, self.user, self.model, self.max_mode,
                                 self.columns, self._sums))

    @classmethod
    def empty(cls) -> "MonthCells":
        return CellsBuilder(0).finish()

    def __len__(self) -> int:
        return len(self.day)

    def keys_in_order(self) -> Iterator[LedgerKey]:
        users, models = self.users, self.models
        return zip(self.day, map(users.__getitem__, self.user), map(models.__getitem__, self.model),
                   map(bool, self.max_mode))

    def __iter__(self) -> Iterator[LedgerKey]:
        return self.keys_in_order()

    def rows(self) -> Iterator[tuple]:
        """``(key, charged, requests, ...)`` per cell, in order."""
        return zip(self.keys_in_order(), *self.columns)

    def __getitem__(self, key: LedgerKey) -> list:
        if self._index is None:
            self._index = {cell: row for row, cell in enumerate(self.keys_in_order())}
        row = self._index[key]
        return [column[row] for column in self.columns]

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True


    def totals(self) -> Iterator[tuple[LedgerKey, UsageTotals]]:
        """``(key, UsageTotals)`` per cell."""
        make = UsageTotals._make
        return zip(self.keys_in_order(), map(make, zip(*self.columns)))

    def within_days(self, first_day: int, last_day: int) -> "MonthCells":
        """The cells of the days from ``first_day`` to ``last_day`` (sums derived anew)."""
        chosen = [row for row, day in enumerate(self.day) if first_day <= day <= last_day]
        if len(chosen) == len(self):
            return self
        pick = lambda column: [column[row] for row in chosen]  # noqa: E731
        return MonthCells(users=self.users, models=self.models, day=array("q", pick(self.day)),
                          user=array("q", pick(self.user)), model=array("q", pick(self.model)),
                          max_mode=array("b", pick(self.max_mode)),
                          sums=[int_column(pick(column)) for column in self.columns])

    def renamed(self, user_name: Callable[[str], str], model_name: Callable[[str], str],
                first_day: int) -> "MonthCells":
        """The cells with each user and model renamed (a pseudonymised report): the columns shared,
        the sums renamed; where two names become one (one person written in two cases), their cells
        are summed into one (``first_day``: the month's)."""
        users, models = list(map(user_name, self.users)), list(map(model_name, self.models))
        if len(set(users)) < len(users) or len(set(models)) < len(models):
            merged = MonthCells(users=users, models=models, day=self.day, user=self.user, model=self.model,
                                max_mode=self.max_mode, sums=self.columns)
            try:
                builder = CellsBuilder(first_day)
                builder.add_cells(merged)
            except OverflowError:
                builder = CellsBuilder(first_day, wide=True)
                builder.add_cells(merged)
            return builder.finish()
        user_of, model_of = dict(zip(self.users, users)), dict(zip(self.models, models))
        sums = None
        if self._sums is not None:
            sums = MonthSums(
                user_models={(user_of[user], model_of[model]): totals
                             for (user, model), totals in self._sums.user_models.items()},
                days=self._sums.days,
                user_days={user_of[user]: costs for user, costs in self._sums.user_days.items()},
                model_days={model_of[model]: costs for model, costs in self._sums.model_days.items()},
                model_modes={(model_of[model], mode): sums
                             for (model, mode), sums in self._sums.model_modes.items()},
            )
        return MonthCells(users=users, models=models, day=self.day, user=self.user, model=self.model,
                          max_mode=self.max_mode, sums=self.columns, derived=sums)

    def sums(self) -> "MonthSums":
        """The sums the reports read (derived on the first call unless the decoding process did)."""
        if self._sums is None:
            self._sums = derive_sums(self)
        return self._sums

    def set_sums(self, sums: "MonthSums") -> None:
        """Give the cells their sums, derived elsewhere from the same cells (a month decoded in parts)."""
        self._sums = sums


def _packed_keys(user: Column, model: Column, day: Column, max_mode: Column, first_day: int) -> list[int]:
    """Each cell's key as ``CellsBuilder`` packs it, from the cells' columns (computed column-wise, in C)."""
    user_model = map(or_, map(lshift, user, repeat(MODEL_BITS)), model)
    day_mode = map(or_, map(lshift, map(sub, day, repeat(first_day)), repeat(1)), max_mode)
    return list(map(or_, map(lshift, user_model, repeat(_DAY_BITS)), day_mode))


def _rebuild_cells(users, models, day, user, model, max_mode, columns, derived) -> MonthCells:
    return MonthCells(users=users, models=models, day=day, user=user, model=model, max_mode=max_mode,
                      sums=columns, derived=derived)


@dataclass
class MonthSums:
    """What the reports read of a month, summed from its cells once."""

    #: ``(user, model) -> totals`` (over the month's days and max mode).
    user_models: dict[tuple[str, str], UsageTotals]
    #: ``day -> totals``.
    days: dict[int, UsageTotals]
    #: ``user -> {day: cost}`` and ``model -> {day: cost}`` (micro-cents; only days with cells).
    user_days: dict[str, dict[int, int]]
    model_days: dict[str, dict[int, int]]
    #: ``(model, max mode) -> ModelModeSums``: what the model economics reads of a month.
    model_modes: dict[tuple[str, bool], "ModelModeSums"]


@dataclass(frozen=True)
class ModelModeSums:
    """A model's cells of one max mode in a month: their totals, and the sums a fit of the model's
    list prices per token kind needs (:class:`~billing_reports.model_prices.PriceEvidence`)."""

    totals: UsageTotals
    evidence: PriceEvidence


def grouped_columns(groups: Sequence[int], columns: Sequence[Column]) -> Iterator[tuple[int, list[Sequence[int]]]]:
    """Each group's slice of every column, the groups in ascending order (``groups``: the group of
    each cell). One sort of the cells by group, then each column gathered in that order once: a
    group's cells are one slice of each column, with no per-cell Python work but the sort's key."""
    order = sorted(range(len(groups)), key=groups.__getitem__)
    if not order:
        return
    if len(order) == 1:
        gathered: list[Sequence[int]] = [(column[0],) for column in columns]
    else:
        pick = itemgetter(*order)
        gathered = [pick(column) for column in columns]
    start = 0
    for group, size in sorted(Counter(groups).items()):
        end = start + size
        yield group, [column[start:end] for column in gathered]
        start = end


def cells_evidence(columns: Sequence[Sequence[int]]) -> PriceEvidence:
    """The price-fit evidence of some cells, given their eight columns (the order of ``UsageTotals``):
    the tokens by kind against the list cost less the token fee."""
    _cost, _requests, input_tokens, output_tokens, cache_write, cache_read, list_cost, token_fee = columns
    return PriceEvidence.of_columns((input_tokens, output_tokens, cache_write, cache_read),
                                    list(map(sub, list_cost, token_fee)))


def derive_model_modes(cells: "MonthCells") -> dict[tuple[str, bool], ModelModeSums]:
    """Each ``(model, max mode)``'s totals and price-fit evidence, in the order of the model codes
    (the evidence's products summed a column at a time: a big month has hundreds of thousands of cells)."""
    groups = list(map(add, map(mul, cells.model, repeat(2)), cells.max_mode))
    make = UsageTotals._make
    return {(cells.models[group // 2], bool(group % 2)): ModelModeSums(make(map(sum, columns)), cells_evidence(columns))
            for group, columns in grouped_columns(groups, cells.columns)}


def derive_sums(cells: MonthCells) -> MonthSums:
    """The month's sums per ``(user, model)``, day, ``(user, day)`` and ``(model, day)``: one pass
    over the cells (written out field by field: a cell costs about a microsecond); and per model and
    max mode (:func:`derive_model_modes`). (A month decoded in pieces: each piece's, joined by
    :func:`join_parts`.)"""
    model_count = max(len(cells.models), 1)
    users, models = cells.users, cells.models
    pair_sums: dict[int, list[int]] = {}
    day_sums: dict[int, list[int]] = {}
    user_days: list[dict[int, int]] = [{} for _ in users]
    model_days: list[dict[int, int]] = [{} for _ in models]
    pair_sum, day_sum = pair_sums.get, day_sums.get
    for user, model, day, c, r, i, o, w, d, l, f in zip(cells.user, cells.model, cells.day, *cells.columns):
        pair = user * model_count + model
        t = pair_sum(pair)
        if t is None:
            pair_sums[pair] = [c, r, i, o, w, d, l, f]
        else:
            t[0] += c
            t[1] += r
            t[2] += i
            t[3] += o
            t[4] += w
            t[5] += d
            t[6] += l
            t[7] += f
        t = day_sum(day)
        if t is None:
            day_sums[day] = [c, r, i, o, w, d, l, f]
        else:
            t[0] += c
            t[1] += r
            t[2] += i
            t[3] += o
            t[4] += w
            t[5] += d
            t[6] += l
            t[7] += f
        costs = user_days[user]
        costs[day] = costs.get(day, 0) + c
        costs = model_days[model]
        costs[day] = costs.get(day, 0) + c
    make = UsageTotals._make
    return MonthSums(
        user_models={(users[pair // model_count], models[pair % model_count]): make(values)
                     for pair, values in pair_sums.items()},
        days={day: make(values) for day, values in sorted(day_sums.items())},
        user_days={user: costs for user, costs in zip(users, user_days) if costs},
        model_days={model: costs for model, costs in zip(models, model_days) if costs},
        model_modes=derive_model_modes(cells),
    )


def join_parts(parts: Sequence[MonthCells], first_day: int) -> MonthCells:
    """One month's cells from the cells of its parts (decoded apart, in the order of the file, each with
    its sums derived), their sums joined too: the same cells in the same order, users and models coded
    the same, and the same sums, as when the month is decoded whole.

    The parts of a month cut in time share few cells (those of the days at the cuts): every other cell
    is copied a column at a time, and only a shared one is added up by hand. The sums per model and
    max mode are the parts' added, corrected for each shared cell: its price-fit evidence is of products
    of its sums, so the merged cell's evidence replaces its halves'. A sum beyond 64 bits joins the
    parts in Python integers."""
    try:
        return _joined(parts, first_day, wide=False)
    except OverflowError:
        return _joined(parts, first_day, wide=True)


def _joined(parts: Sequence[MonthCells], first_day: int, *, wide: bool) -> MonthCells:
    users: dict[str, int] = {}
    models: dict[str, int] = {}
    day, user, model, max_mode = array("q"), array("q"), array("q"), array("b")
    sums: list[Any] = [[] if wide else array("q") for _ in range(SUM_COUNT)]
    rows: dict[int, int] = {}  # packed key -> row
    merged: list[tuple[int, list[int], list[int], list[int]]] = []  # (model mode, before, added, after)
    for part in parts:
        user_codes = [users.setdefault(name, len(users)) for name in part.users]
        model_codes = [models.setdefault(name, len(models)) for name in part.models]
        part_user = list(map(user_codes.__getitem__, part.user))
        part_model = list(map(model_codes.__getitem__, part.model))
        keys = _packed_keys(part_user, part_model, part.day, part.max_mode, first_day)
        shared = rows.keys() & keys
        in_shared = list(map(shared.__contains__, keys)) if shared else []
        fresh = list(map(not_, in_shared))
        take = (lambda column: compress(column, fresh)) if shared else (lambda column: column)
        rows.update(zip(take(keys), count(len(day))))
        day.extend(take(part.day))
        user.extend(take(part_user))
        model.extend(take(part_model))
        max_mode.extend(take(part.max_mode))
        for column, part_column in zip(sums, part.columns):
            column.extend(take(part_column))
        for index in compress(range(len(keys)), in_shared):
            row = rows[keys[index]]
            before = [column[row] for column in sums]
            added = [column[index] for column in part.columns]
            after = list(map(add, before, added))
            for column, value in zip(sums, after):
                column[row] = value  # (beyond 64 bits: OverflowError, and the join starts again wide)
            merged.append((model[row] * 2 + max_mode[row], before, added, after))
    cells = MonthCells(users=list(users), models=list(models), day=day, user=user, model=model, max_mode=max_mode,
                       sums=[column if isinstance(column, array) else int_column(column) for column in sums])
    cells.set_sums(_joined_sums([part.sums() for part in parts], merged, cells.models))
    return cells


def _joined_sums(parts: Sequence[MonthSums], merged: Sequence[tuple[int, list[int], list[int], list[int]]],
                 models: list[str]) -> MonthSums:
    """The sums of a month from its parts' (:func:`join_parts`): ``merged``, the cells two parts shared,
    each as ``(model code x 2 + max mode, sums before, sums added, sums after)``."""
    total = MonthSums({}, {}, {}, {}, {})
    model_modes: dict[tuple[str, bool], list[Any]] = {}
    for part in parts:
        for into, more in ((total.user_models, part.user_models), (total.days, part.days)):
            for key, totals in more.items():
                found = into.get(key)
                into[key] = totals if found is None else found + totals
        for into, more in ((total.user_days, part.user_days), (total.model_days, part.model_days)):
            for name, costs in more.items():
                found = into.setdefault(name, {})
                for day, cost in costs.items():
                    found[day] = found.get(day, 0) + cost
        for key, sums in part.model_modes.items():
            found = model_modes.get(key)
            model_modes[key] = [sums.totals, sums.evidence] if found is None else [found[0] + sums.totals,
                                                                                 found[1] + sums.evidence]
    by_model_mode: dict[int, list[tuple[int, list[int], list[int], list[int]]]] = {}
    for cell in merged:
        by_model_mode.setdefault(cell[0], []).append(cell)
    for group, rows in by_model_mode.items():
        found = model_modes[models[group // 2], bool(group % 2)]
        before, added, after = (cells_evidence(list(zip(*[row[place] for row in rows]))) for place in (1, 2, 3))
        found[1] = found[1] + after - before - added
    code = {name: number for number, name in enumerate(models)}
    total.days = dict(sorted(total.days.items()))
    total.model_modes = {key: ModelModeSums(*model_modes[key])
                         for key in sorted(model_modes, key=lambda key: (code[key[0]], key[1]))}
    return total


def cells_from_totals(first_day: int, totals: Iterable[tuple[LedgerKey, Sequence[int]]]) -> MonthCells:
    """A month's cells from ``(key, sums)`` pairs (a ledger made by hand, a summary)."""
    try:
        builder = CellsBuilder(first_day)
        for key, sums in totals:
            builder.add(key, sums)
    except OverflowError:
        builder = CellsBuilder(first_day, wide=True)
        for key, sums in totals:
            builder.add(key, sums)
    return builder.finish()


class Ledger(Mapping[LedgerKey, UsageTotals]):
    """The ledger of a report as one read-only mapping ``(day, user, model, max mode) ->
    UsageTotals`` over the months' :class:`MonthCells` (made on each look-up)."""

    __slots__ = ("months", "_index")

    def __init__(self, months: Mapping[Any, MonthCells]) -> None:
        #: month -> its cells (a day lies in one month only).
        self.months = dict(months)
        self._index: dict[LedgerKey, UsageTotals] | None = None

    def __len__(self) -> int:
        return sum(map(len, self.months.values()))

    def __iter__(self) -> Iterator[LedgerKey]:
        for cells in self.months.values():
            yield from cells.keys_in_order()

    def items(self):  # type: ignore[override]
        return _LedgerItems(self)

    def __getitem__(self, key: LedgerKey) -> UsageTotals:
        if self._index is None:
            self._index = dict(_all_totals(self))
        return self._index[key]

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(_all_totals(self)) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ledger({len(self)} cells over {len(self.months)} months)"


def _all_totals(ledger: Ledger) -> Iterator[tuple[LedgerKey, UsageTotals]]:
    for cells in ledger.months.values():
        yield from cells.totals()


class _LedgerItems:
    """``Ledger.items()``: iterated without building an index."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __len__(self) -> int:
        return len(self._ledger)

    def __iter__(self) -> Iterator[tuple[LedgerKey, UsageTotals]]:
        return _all_totals(self._ledger)


__all__ = ["CellsBuilder", "Ledger", "MonthCells", "MonthSums", "SUM_COUNT", "cells_from_totals", "derive_sums", "join_parts",
           "int_column"]
