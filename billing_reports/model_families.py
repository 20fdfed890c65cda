"""Model families: a model's variants (``-thinking``, ``-high``, ``-max``, dated versions) under one name.

A family is what is left of a model's name once every **strip rule** has removed what it matches:
each rule is a regular expression, and the rules are applied in their order, over and over until the
name stops changing (``claude-4-sonnet-20250514-thinking`` loses ``-thinking``, then its date, in
whichever order the rules come), at most :data:`MAX_PASSES` rounds. A rule that would leave nothing
of a name is not applied to it: a family always has a name.

Model names come from the API (anyone's, in effect) and the rules from ``config.yaml``, so the
rules are matched by RE2 (``google-re2``), whose matching time grows linearly with the name
whatever the pattern: a pattern that backtracks catastrophically in Python's ``re`` (``(a+)+$``)
cannot hang a build on a hostile name. RE2 has no backreferences or lookaround; such a pattern, like
any pattern that does not compile, is refused when the config is read, naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import re2

#: The default rules: reasoning and effort variants, max and fast modes, previews, dated versions.
DEFAULT_STRIP_RULES: tuple[str, ...] = (
    r"-(thinking|reasoning)$",
    r"-(xhigh|high|medium|low|minimal)$",
    r"-(max|fast)$",
    r"-(preview|latest|exp)$",
    r"-\d{8}$",                      # -20250514
    r"-\d{4}-\d{2}-\d{2}$",          # -2025-05-14
    r"-(0[1-9]|1[0-2])-?\d{2}$",     # -0514, -05-14
)
#: Rounds of all the rules at most (each round that changes a name makes it shorter: a bound anyway).
MAX_PASSES = 16


class StripRuleError(ValueError):
    """A strip rule that is no pattern RE2 accepts (``index``: its place in the list, from 0)."""

    def __init__(self, index: int, pattern: str, problem: str) -> None:
        super().__init__(f"rule {index + 1} {pattern!r} is not a pattern RE2 accepts ({problem})")
        self.index = index
        self.pattern = pattern
        self.problem = problem


@dataclass(frozen=True)
class ModelFamilies:
    """Compiled strip rules: :meth:`family_of` a model's name."""

    rules: tuple[object, ...]

    @classmethod
    def compile(cls, patterns: Sequence[str]) -> "ModelFamilies":
        """The rules of ``patterns``, in order; :class:`StripRuleError` for the first that does not compile."""
        options = re2.Options()
        options.log_errors = False  # the error comes back as the exception's text, not on stderr
        compiled = []
        for index, pattern in enumerate(patterns):
            try:
                compiled.append(re2.compile(pattern, options))
            except re2.error as error:
                problem = error.args[0] if error.args else str(error)
                if isinstance(problem, bytes):
                    problem = problem.decode("utf-8", "replace")
                raise StripRuleError(index, pattern, str(problem)) from None
        return cls(tuple(compiled))

    def family_of(self, model: str) -> str:
        """What is left of ``model`` once every rule has stripped what it matches (see the module)."""
        name = model
        for _ in range(MAX_PASSES):
            before = name
            for rule in self.rules:
                stripped = rule.sub("", name)  # type: ignore[attr-defined]
                if stripped:
                    name = stripped
            if name == before:
                break
        return name

    def families(self, models: Sequence[str]) -> dict[str, str]:
        """``model -> family`` for each of ``models``."""
        return {model: self.family_of(model) for model in models}


__all__ = ["DEFAULT_STRIP_RULES", "MAX_PASSES", "ModelFamilies", "StripRuleError"]
