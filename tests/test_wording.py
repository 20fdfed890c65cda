"""Counts read as people say them: one problem, two problems; never "problem(s)"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from billing_reports.errors import ConfigError
from billing_reports.settings import load_settings
from billing_reports.wording import counted, noun_for


@pytest.mark.parametrize(("count", "text"), [(0, "0 requests"), (1, "1 request"), (2, "2 requests"),
                                             (-1, "-1 request"), (1_234, "1,234 requests")])
def test_a_count_and_its_noun(count, text):
    assert counted(count, "request") == text


def test_an_irregular_plural_is_given():
    assert counted(1, "entry", "entries") == "1 entry" and counted(2, "entry", "entries") == "2 entries"
    assert noun_for(1, "billing cycle") == "billing cycle" and noun_for(3, "billing cycle") == "billing cycles"


def test_one_config_problem_is_one_problem(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("billing:\n  page_size: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.message.splitlines()[0] == f"{path}: 1 problem; fix it and run again:"


def test_no_user_facing_text_says_a_noun_with_s_in_brackets():
    """The code, templates and plugins never write ``file(s)``: a count picks its noun (comments aside)."""
    root = Path(__file__).resolve().parents[1]
    found = []
    for folder in ("billing_reports", "plugins", "site_templates"):
        for path in (root / folder).rglob("*"):
            if path.suffix not in {".py", ".html", ".js", ".css"}:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                code = line.split("#", 1)[0] if path.suffix == ".py" else line
                if re.search(r"[a-z]\((s|es)\)", code):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
