"""A complete build of the site: a directory and the ``build-manifest.json`` that describes it.

``billing-reports build`` writes the manifest last, listing every file with its size and SHA-256,
then swaps the directory in as ``site_dir``; ``publish`` reads it back (``publish.site``) before it
sends anything to hosting. One :class:`BuiltSite` serves both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from ..months import Month

MANIFEST_NAME = "build-manifest.json"


@dataclass(frozen=True)
class BuiltSite:
    """A complete build in ``directory``, as its ``build-manifest.json`` describes it.

    ``files`` are POSIX paths relative to ``directory`` (the manifest's list,
    without the manifest itself); ``index`` is the page a reader opens first.
    """

    directory: Path
    built_at: str
    first_month: Month
    last_month: Month
    files: tuple[str, ...]
    index: str
    #: Each file's ``{"size", "sha256"}`` as the manifest records it.
    checksums: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Built with every person under a pseudonym (``privacy.pseudonymise``).
    pseudonymised: bool = False

    @classmethod
    def from_manifest(cls, directory: Path, manifest: Mapping[str, Any]) -> "BuiltSite":
        """The site in ``directory`` as its manifest (already checked) describes it."""
        return cls(
            directory=Path(directory),
            built_at=manifest["built_at"],
            first_month=Month.parse(manifest["period"]["first"]),
            last_month=Month.parse(manifest["period"]["last"]),
            files=tuple(manifest["files"]),
            index=manifest["index"],
            checksums=manifest.get("checksums") or {},
            pseudonymised=manifest.get("pseudonymised") is True,
        )

    @property
    def index_path(self) -> Path:
        """The index page's file: what a reader opens first."""
        return self.directory / self.index

    @property
    def page_count(self) -> int:
        return sum(1 for name in self.files if _is_page(name))

    @property
    def period(self) -> str:
        """``January 2026 – February 2026`` (or one month's label)."""
        if self.first_month == self.last_month:
            return self.first_month.label
        return f"{self.first_month.label} – {self.last_month.label}"

    @property
    def period_keys(self) -> str:
        """``2026-01..2026-02``: the period in commit messages and logs."""
        return f"{self.first_month.key}..{self.last_month.key}"

    @property
    def all_files(self) -> tuple[str, ...]:
        """Every file to publish: the listed files, then the manifest itself."""
        return (*self.files, MANIFEST_NAME)

    def upload_order(self) -> list[str]:
        """Files in the order a reader never meets a link to a missing file.

        Assets (CSS, scripts, images, data) first, then the pages other than
        the index, then the index, then the manifest, which marks the
        published site complete.
        """
        assets = [f for f in self.files if not _is_page(f)]
        pages = [f for f in self.files if _is_page(f) and f != self.index]
        return [*sorted(assets), *sorted(pages), self.index, MANIFEST_NAME]

    def path(self, relative_path: str) -> Path:
        """The local file of ``relative_path``."""
        return self.directory / relative_path

    def md5(self, relative_path: str) -> str:
        """Hex MD5 of a file (what S3 reports as the ETag of a single-part upload)."""
        return self._digests[relative_path]

    @cached_property
    def _digests(self) -> dict[str, str]:
        digests = {}
        for relative_path in self.all_files:
            digest = hashlib.md5(usedforsecurity=False)
            with open(self.path(relative_path), "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            digests[relative_path] = digest.hexdigest()
        return digests


def _is_page(relative_path: str) -> bool:
    return PurePosixPath(relative_path).suffix.lower() in {".html", ".htm"}


def manifest_is_pseudonymised(text: str | bytes | None) -> bool:
    """Whether a ``build-manifest.json`` (its text; ``None``: none) says its site names nobody."""
    import json

    try:
        manifest = json.loads(text) if text is not None else None
    except ValueError:
        return False
    return isinstance(manifest, dict) and manifest.get("pseudonymised") is True


def built_site_is_pseudonymised(directory: Path) -> bool | None:
    """Whether the site built in ``directory`` names nobody (``None``: no site, or no readable manifest)."""
    try:
        text = (Path(directory) / MANIFEST_NAME).read_bytes()
    except OSError:
        return None
    return manifest_is_pseudonymised(text)


#: Why a target that takes only pseudonymised sites does not roll back to the one it kept.
NOT_PSEUDONYMISED_PREVIOUS = ("takes only a pseudonymised site (pseudonymised_only), and the previous site it kept "
                              "names people (or says nothing of it); publish the pseudonymised build you want instead")


__all__ = ["MANIFEST_NAME", "NOT_PSEUDONYMISED_PREVIOUS", "BuiltSite", "built_site_is_pseudonymised",
           "manifest_is_pseudonymised"]
