"""The built site a target publishes: a site directory holding a complete build.

``billing-reports build`` writes ``build-manifest.json`` last, listing every
file with its size and SHA-256. A site directory without it, with a file the
manifest lists but the directory lacks, or with a file that no longer matches
its size and digest (truncated, edited, half-copied) is not the complete build
and is never published.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path, PurePosixPath

from ..errors import PublishError
from ..months import Month
from ..site.built import MANIFEST_NAME, BuiltSite
from ..site.output import file_checksum
from ..wording import counted


#: Content types of the files a site holds; text is always UTF-8.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".xml": "application/xml",
    ".map": "application/json",
}


def content_type(relative_path: str) -> str:
    """The ``Content-Type`` a web server should send for ``relative_path``.

    >>> content_type("users/index.html")
    'text/html; charset=utf-8'
    """
    suffix = PurePosixPath(relative_path).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(relative_path)
    return guessed or "application/octet-stream"


def load_built_site(directory: Path, *, build_hint: str = "billing-reports build") -> BuiltSite:
    """Read ``directory/build-manifest.json`` and check that every listed file is there, as built.

    :raises PublishError: no manifest, a manifest of the wrong shape (or of a
        version that recorded no checksums), a listed file missing or not of
        the size and SHA-256 the manifest records, or a path leaving the
        directory; the message names the directory and says to run ``build_hint``.
    """
    manifest_path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise PublishError(f"{directory}: no built site there; run `{build_hint}` first")
    if not manifest_path.is_file():
        raise PublishError(
            f"{directory}: no {MANIFEST_NAME}, so the build there is not complete; run `{build_hint}` first"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PublishError(f"{manifest_path}: cannot read it ({error}); run `{build_hint}` again") from None

    problem = _manifest_problem(manifest)
    if problem:
        raise PublishError(f"{manifest_path}: {problem}; run `{build_hint}` again")
    files = tuple(manifest["files"])
    for relative_path in files:
        if not _is_inside(relative_path):
            raise PublishError(
                f"{manifest_path}: file {relative_path!r} is not a relative path inside the site; "
                f"run `{build_hint}` again"
            )
    missing = [f for f in files if not (directory / f).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise PublishError(
            f"{directory}: incomplete build, {counted(len(missing), 'listed file')} missing ({shown}); "
            f"run `{build_hint}` again"
        )
    files = tuple(f for f in dict.fromkeys(files) if f != MANIFEST_NAME)
    _check_contents(directory, files, manifest["checksums"], manifest_path, build_hint)
    if manifest["index"] not in files:
        raise PublishError(
            f"{manifest_path}: the index {manifest['index']!r} is not among the listed files; "
            f"run `{build_hint}` again"
        )
    return BuiltSite.from_manifest(directory, manifest)


def _manifest_problem(manifest: object) -> str | None:
    if not isinstance(manifest, dict):
        return "expected a JSON object"
    for key in ("built_at", "period", "files", "index"):
        if key not in manifest:
            return f"missing key {key!r}"
    if not isinstance(manifest["built_at"], str):
        return "built_at: expected a timestamp string"
    period = manifest["period"]
    if not isinstance(period, dict) or not {"first", "last"} <= period.keys():
        return "period: expected {first, last} months as YYYY-MM"
    try:
        if Month.parse(str(period["first"])) > Month.parse(str(period["last"])):
            return "period: first is after last"
    except ValueError:
        return "period: expected {first, last} months as YYYY-MM"
    files = manifest["files"]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
        return "files: expected a non-empty list of relative paths"
    if not isinstance(manifest["index"], str) or not manifest["index"]:
        return "index: expected the index page's file name"
    checksums = manifest.get("checksums")
    if checksums is None:
        return "no checksums (a build by an older version), so its files cannot be checked"
    if not isinstance(checksums, dict):
        return "checksums: expected {size, sha256} for every listed file"
    return None


def _is_checksum(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("size"), int)
        and not isinstance(value.get("size"), bool)
        and isinstance(value.get("sha256"), str)
        and len(value["sha256"]) == 64
    )


def _check_contents(directory: Path, files: tuple[str, ...], checksums: dict, manifest_path: Path, build_hint: str) -> None:
    """Every file has the size and SHA-256 the build recorded (sizes first: a truncated file costs no read)."""
    unrecorded = [f for f in files if not _is_checksum(checksums.get(f))]
    if unrecorded:
        raise PublishError(
            f"{manifest_path}: checksums: expected {{size, sha256}} for every listed file, not for "
            f"{unrecorded[0]}{_more(unrecorded)}; run `{build_hint}` again"
        )
    wrong_size = [f for f in files if (directory / f).stat().st_size != checksums[f]["size"]]
    if wrong_size:
        first = wrong_size[0]
        raise PublishError(
            f"{directory}: {counted(len(wrong_size), 'file')} changed since the build ({first} is "
            f"{(directory / first).stat().st_size} bytes, {MANIFEST_NAME} says {checksums[first]['size']}"
            f"{_more(wrong_size)}); run `{build_hint}` again"
        )
    wrong_digest = [f for f in files if file_checksum(directory / f)["sha256"] != checksums[f]["sha256"]]
    if wrong_digest:
        raise PublishError(
            f"{directory}: {counted(len(wrong_digest), 'file')} changed since the build ({wrong_digest[0]}: its SHA-256 is "
            f"not the one in {MANIFEST_NAME}{_more(wrong_digest)}); run `{build_hint}` again"
        )


def _more(names: list[str]) -> str:
    return f", and {', '.join(names[1:3])}{' ...' if len(names) > 3 else ''}" if len(names) > 1 else ""


def _is_inside(relative_path: str) -> bool:
    """A plain relative path (no ``..``, no backslash, no control character such as a newline)."""
    path = PurePosixPath(relative_path)
    return (
        not path.is_absolute()
        and ".." not in path.parts
        and "\\" not in relative_path
        and all(ord(c) >= 32 and c != "\x7f" for c in relative_path)
    )


__all__ = ["CONTENT_TYPES", "content_type", "load_built_site"]
