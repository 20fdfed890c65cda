"""Who is in which group on which day (issue 14): a mapping file, or Cursor's billing groups."""

import pytest
from conftest import utc

from billing_reports.cursor_figures import BillingGroup, CursorFigures, GroupMembership, GroupsSnapshot
from billing_reports.errors import ConfigError
from billing_reports.groups import UNASSIGNED, from_cursor, parse_mapping, read_mapping
from billing_reports.periods import cycle_containing, parse_day

MAPPING = """email,group,start
ann@example.com,Platform,
bob@example.com,Platform,
bob@example.com,Data,2026-03-16
nightly-ci,Platform,
"""


def day(text):
    return parse_day(text)


def test_a_person_who_moves_team_is_charged_to_each_team_for_its_days():
    directory = parse_mapping(MAPPING, "groups.csv")
    assert directory.group_of("bob@example.com", day("2026-03-15")) == "Platform"
    assert directory.group_of("bob@example.com", day("2026-03-16")) == "Data"
    assert directory.group_of("bob@example.com", day("2027-01-01")) == "Data"
    assert directory.group_of("ann@example.com", day("2020-01-01")) == "Platform"
    assert directory.group_of("cy@example.com", day("2026-03-16")) == UNASSIGNED
    assert directory.group_of("nightly-ci (service account)", day("2026-03-16")) == "Platform"
    assert directory.groups == ["Data", "Platform"]


def test_a_first_membership_with_a_start_leaves_the_days_before_it_unassigned():
    directory = parse_mapping("email,group,start\ncy@example.com,Data,2026-02-01\n", "g.csv")
    assert directory.group_of("cy@example.com", day("2026-01-31")) == UNASSIGNED
    assert directory.group_of("cy@example.com", day("2026-02-01")) == "Data"


@pytest.mark.parametrize("text, problem", [
    ("mail,team\nann@example.com,X\n", "the first line must be the header email,group"),
    ("", "found nothing"),
    ("email,group\nann@example.com\n", "line 2: expected 2 columns"),
    ("email,group\n,Platform\n", "line 2: an email"),
    ("email,group,start\nann@example.com,X,31/01/2026\n", "line 2: start expected a day as YYYY-MM-DD"),
    ("email,group,start\nann@example.com,X,2026-02-30\n", "not a day of the calendar"),
    # the lines, not the email (the message may reach the log of a pseudonymised build)
    ("email,group\nann@example.com,X\nann@example.com,Y\n",
     "line 3: the person of this line already has a group from that start on line 2"),
])
def test_a_bad_mapping_is_one_line_naming_the_file_and_line(text, problem):
    with pytest.raises(ConfigError) as raised:
        parse_mapping(text, "teams/groups.csv")
    message = raised.value.message
    assert "teams/groups.csv" in message and problem in message and "\n" not in message
    assert "ann@" not in message


def test_a_mapping_file_that_cannot_be_used_is_named(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read the group mapping"):
        read_mapping(tmp_path / "missing.csv")
    binary = tmp_path / "groups.csv"
    binary.write_bytes(b"email,group\n\xff\xfe,X\n")
    with pytest.raises(ConfigError, match="is not UTF-8"):
        read_mapping(binary)
    excel = tmp_path / "excel.csv"
    excel.write_bytes("\ufeffemail,group\nann@example.com,Finance\n".encode())  # Excel's BOM
    assert read_mapping(excel).group_of("ann@example.com", 0) == "Finance"


def test_hostile_group_names_are_printable_and_bounded():
    directory = parse_mapping("email,group\nann@example.com,\x1b[31mRed\x07 " + "x" * 500 + "\n", "g.csv")
    [group] = directory.groups
    assert "\x1b" not in group and "\x07" not in group and len(group) <= 120


def _cycle(first):
    return cycle_containing(day(first), day(first))


def test_cursors_groups_give_each_day_its_group_within_and_around_kept_cycles():
    november = GroupsSnapshot(_cycle("2026-11-17"), utc("2026-11-30T00:00:00"), (
        BillingGroup("g1", "Platform", 0, (
            GroupMembership("ann@example.com", "Ann", None, None, 0),
            GroupMembership("cy@example.com", "Cy", day("2026-11-20"), None, 0),    # joined mid-cycle
        )),
        BillingGroup("g2", "Data", 0, (
            GroupMembership("cy@example.com", "Cy", None, day("2026-11-20"), 0),    # left that day
        )),
        BillingGroup("group_unassigned", "Unassigned", 0, (GroupMembership("dee@example.com", "Dee", None, None, 0),)),
    ))
    directory = from_cursor(CursorFigures(groups=[november]))
    assert directory.group_of("cy@example.com", day("2026-11-19")) == "Data"
    assert directory.group_of("cy@example.com", day("2026-11-20")) == "Platform"
    assert directory.group_of("ann@example.com", day("2026-06-01")) == "Platform"  # before any kept cycle
    assert directory.group_of("dee@example.com", day("2026-11-20")) == UNASSIGNED
    assert from_cursor(CursorFigures()) is None


def test_an_email_matches_whatever_its_case():
    directory = parse_mapping("email,group,start\nMaya.Chen@Example.com,Product,\nmaya.chen@example.com,Data,2026-03-01\n",
                              "g.csv")
    assert directory.group_of("maya.chen@example.com", day("2026-02-28")) == "Product"
    assert directory.group_of("MAYA.CHEN@example.com", day("2026-03-01")) == "Data"
    with pytest.raises(ConfigError, match="line 3: the person of this line already has a group from that start on line 2"):
        parse_mapping("email,group\nAnn@example.com,X\nann@example.com,Y\n", "g.csv")
