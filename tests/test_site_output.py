"""``SiteOutput``: files land inside the build directory only, once each, and the swap is whole."""

from __future__ import annotations

import pytest

from billing_reports.site.output import MANIFEST_NAME, SiteOutput


@pytest.mark.parametrize("relative", [
    "", ".", "/etc/passwd", "../outside.html", "a/../../outside.html", "a//b.html", "a/", "./a.html", "a/./b.html",
])
def test_a_path_that_is_not_plainly_inside_the_site_is_refused(tmp_path, relative):
    with SiteOutput(tmp_path / "site") as output:
        with pytest.raises(ValueError, match="not a relative path inside the site"):
            output.write_text(relative, "x")
    assert not (tmp_path / "outside.html").exists()


def test_files_are_written_once_each_and_swapped_in_with_the_manifest(tmp_path):
    with SiteOutput(tmp_path / "site") as output:
        output.write_text("index.html", "<p>hi</p>")
        output.write_bytes("data/users/a--models.csv", b"a,b\n")
        with pytest.raises(ValueError, match="already has a file"):
            output.write_text("index.html", "again")
        with pytest.raises(ValueError, match="already has a file"):
            output.write_text(MANIFEST_NAME, "{}")
        manifest = output.swap_in({"index": "index.html"})
    assert manifest["files"] == ["data/users/a--models.csv", "index.html"]
    assert (tmp_path / "site" / "data" / "users" / "a--models.csv").read_bytes() == b"a,b\n"
    assert (tmp_path / "site" / MANIFEST_NAME).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no build directory left beside it
