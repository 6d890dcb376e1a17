"""Cron expressions: 5-field cron, and Quartz 6/7-field expressions converted to it."""

from __future__ import annotations

import re
from collections.abc import Callable

from croniter import croniter

# (name, what it allows) of each field of a 5-field expression, in order.
FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT"),
)
# The Quartz fields, in the order `to_croniter` writes them for croniter.
_QUARTZ_AS_CONVERTED = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31 or ?"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "1-7 or SUN-SAT, or ?"),
    ("seconds", "0-59"),
)


def _wrong_field(fields: list[str]) -> int | None:
    """The first field croniter refuses with every other field `*`; None if each is fine."""
    for i, field in enumerate(fields):
        probe = ["*"] * len(fields)
        probe[i] = field
        if not croniter.is_valid(" ".join(probe)):
            return i
    return None


def _invalid(
    expr: str, fields: list[str], names: tuple[tuple[str, str], ...], shown: list[str]
) -> str:
    """A message naming the wrong field of `expr` (`fields` as croniter reads them, `shown`
    as written)."""
    head = f"invalid {'Quartz ' if names is _QUARTZ_AS_CONVERTED else ''}cron expression {expr!r}"
    i = _wrong_field(fields)
    if i is None:
        return head
    name, allowed = names[i]
    return f"{head}: the {name} field {shown[i]!r} is not valid (it takes {allowed})"


def check_cron(expr: str) -> None:
    """Raise ValueError naming the problem when `expr` is not a cron or Quartz expression."""
    fields = expr.split()
    if len(fields) == 5:
        if not croniter.is_valid(expr):
            raise ValueError(_invalid(expr, fields, FIELDS, fields))
        return
    if len(fields) in (6, 7):
        to_croniter(expr)
        return
    raise ValueError(
        f"a cron expression has 5 fields (or 6-7 in Quartz form), {expr!r} has {len(fields)}"
    )


def _map_days(field: str, day: Callable[[int], str]) -> str:
    """`field` with each day number replaced by `day(number)`; steps (`/n`) and nth-weekday
    counts (`#n`) are numbers too, but not days, and stay."""
    return re.sub(
        r"(?<![/#\d])\d+",
        lambda m: day(int(m.group())),
        field,
    )


def _quartz_dow(field: str) -> str:
    """Quartz numbers days 1-7 from Sunday; cron 0-6 from Sunday."""

    def day(number: int) -> str:
        if not 1 <= number <= 7:
            raise ValueError(f"Quartz day-of-week {number} is outside 1-7")
        return str(number - 1)

    return _map_days(field, day)


def to_croniter(expr: str) -> tuple[str, bool]:
    """Return (expression for croniter, has_seconds) for a 5-, 6- or 7-field expression."""
    fields = expr.split()
    if len(fields) == 5:
        return expr, False
    if len(fields) not in (6, 7):
        raise ValueError(f"invalid cron expression {expr!r}")
    sec, minute, hour, dom, month, dow = fields[:6]
    if len(fields) == 7 and fields[6] not in ("*", "?"):
        raise ValueError(
            f"the Quartz year field is not supported in {expr!r} (use * or leave it out)"
        )
    if dom == "?" and dow == "?":
        raise ValueError(f"only one of day-of-month and day-of-week may be ? in {expr!r}")
    written = [minute, hour, dom, month, dow, sec]
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else _quartz_dow(dow)
    converted = f"{minute} {hour} {dom} {month} {dow} {sec}"
    if not croniter.is_valid(converted):
        raise ValueError(_invalid(expr, converted.split(), _QUARTZ_AS_CONVERTED, written))
    return converted, True


def _cron_dow_to_quartz(field: str) -> str:
    """cron numbers days 0-7 from Sunday (7 is Sunday again); Quartz 1-7 from Sunday."""

    def day(number: int) -> str:
        if not 0 <= number <= 7:
            raise ValueError(f"cron day-of-week {number} is outside 0-7")
        return str(number % 7 + 1)

    return _map_days(field, day)


def to_quartz(expr: str) -> str:
    """A Quartz expression (seconds first, `?` in one day field) for a 5-, 6- or 7-field one."""
    fields = expr.split()
    if len(fields) in (6, 7):
        to_croniter(expr)  # checks it
        return expr
    check_cron(expr)
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    else:
        raise ValueError(
            f"{expr!r} restricts both the day of the month and the day of the week, which "
            "Quartz cannot express"
        )
    if dow != "?":
        dow = _cron_dow_to_quartz(dow)
    quartz = f"0 {minute} {hour} {dom} {month} {dow}"
    to_croniter(quartz)  # a day range that wraps past Saturday (`5-7`) has no Quartz form
    return quartz
