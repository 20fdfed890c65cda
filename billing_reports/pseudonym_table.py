"""Who each pseudonym stands for: ``billing-reports report --pseudonyms``, for whoever holds the key.

Never part of the site: the table is made only on the terminal, from the pseudonyms a pseudonymised
analysis gave (so exactly the people its site names, service accounts and the people a mapping file
or config.yaml names included) and the display names of Cursor's member list as kept.
"""

from __future__ import annotations

from .cursor_figures import CursorFigures
from .pseudonymise import PseudonymisedUsage
from .pseudonyms import normalised
from .sections import Column, Table


def pseudonym_table(usage: PseudonymisedUsage, figures: CursorFigures) -> Table:
    """Each pseudonym of ``usage`` (A to Z) with the emails or service account names it stands for
    (as written; one person written in two cases is one pseudonym) and their display names in
    ``figures`` (Cursor's own, not pseudonymised)."""
    names: dict[str, str] = {}
    for email, member in figures.members.items():
        if member.name:
            names.setdefault(normalised(email), member.name)
    for snapshot in figures.spend:
        for line in snapshot.members:
            if line.name:
                names.setdefault(normalised(line.email), line.name)
    rows = []
    for label, written in (usage.people.names() if usage.people is not None else {}).items():
        shown = sorted({names[normalised(name)] for name in written if normalised(name) in names})
        rows.append([label, ", ".join(written), ", ".join(shown)])
    return Table(
        slug="pseudonyms", title="Pseudonyms",
        columns=[Column("pseudonym", "Pseudonym"), Column("person", "Email or service account"),
                 Column("name", "Display name")],
        rows=rows,
    )


__all__ = ["pseudonym_table"]
