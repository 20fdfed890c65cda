"""A section's intro is Markdown (the site renders it); the terminal shows its words without the marks."""

from __future__ import annotations

from billing_reports import Section
from billing_reports.terminal import plain_text, render_section


def test_markdown_emphasis_and_code_read_as_plain_words():
    assert plain_text("**People**: new users *and* gone ones") == "People: new users and gone ones"
    assert plain_text("__Note:__ run `billing-reports fetch` first") == "Note: run billing-reports fetch first"
    # not emphasis: a lone asterisk, a product, an escaped mark, marks inside a code span
    assert plain_text("spend x 2 * 3 = 6 * 1") == "spend x 2 * 3 = 6 * 1"
    assert plain_text(r"a \*literal\* star") == "a *literal* star"
    assert plain_text("the glob `*.json`") == "the glob *.json"


def test_the_change_explained_intro_reads_plain_in_the_terminal():
    intro = ("**People**: the spend of users new in the period. Over the users in both periods: **volume**, their "
             "change in requests.\n\nmore requests *and* a new price (the interaction) is price.")
    text = render_section(Section("change-explained", "Change explained", 42, intro=intro))
    assert text == ("Change explained\n================\n"
                    "People: the spend of users new in the period. Over the users in both periods: volume, their "
                    "change\nin requests.\n"
                    "more requests and a new price (the interaction) is price.\n")
