"""Publish to an S3-compatible bucket (AWS S3, or MinIO/Ceph/SeaweedFS through ``endpoint_url``).

Every file is uploaded with its ``Content-Type``; assets and pages go up
before the index, so a reader never meets an index that links to a page not
yet uploaded; objects of the previous site that the new one no longer has are
deleted only after everything new is in, and the manifest goes up last.
Unchanged files (same MD5 as the object's ETag) are not uploaded again.

Only objects the published ``build-manifest.json`` lists (or the ``prune``
patterns name) are ever deleted: other objects under the prefix, or in a
bucket without one, are kept.

One publish at a time: a publish first creates the lock object
``.billing-reports-publish.lock`` under the prefix with a conditional write
(``If-None-Match: *``); a second publish finds it and stops with one line. The
lock says when it expires (the publish's deadline plus a minute), so the lock
of a killed publish is taken over once it has expired (``If-Match`` its ETag).

Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and
``AWS_SESSION_TOKEN`` if set) in the environment or ``.env``; the
``*_variable`` options name other variables.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from ... import hookimpl
from ...errors import PublishError
from ...wording import counted
from .. import ownership
from ...site.built import MANIFEST_NAME, BuiltSite
from ..site import content_type
from ..target import Change, Option, PublishTarget, text, variable_name

#: The lock object a publish holds, under the prefix (never part of the site, never deleted as stale).
LOCK_NAME = ".billing-reports-publish.lock"
#: What a publish is about to upload, written before its first upload and removed with its manifest:
#: after a publish that failed midway, the next one knows those objects are ours (no manifest lists them).
PENDING_NAME = ".billing-reports-pending.json"
#: A lock expires this long after its publish's deadline.
LOCK_MARGIN_SECONDS = 60

_CREDENTIAL_CODES = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "InvalidSecurity"}
_MISSING_BUCKET_CODES = {"NoSuchBucket", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}
_PRECONDITION_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_UNSUPPORTED_CODES = {"NotImplemented", "501"}


class _Refused(Exception):
    """An S3 answer the caller handles itself (a failed condition, a missing key)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _prefix(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a key prefix such as reports/billing")
    return value.strip("/")


def _endpoint(value: Any) -> str:
    value = text(value)
    if not value.startswith(("http://", "https://")):
        raise ValueError("a URL starting with http:// or https://")
    return value.rstrip("/")


class S3Target(PublishTarget):
    """An S3-compatible bucket serving the site as static files."""

    options = {
        "bucket": Option(text, required=True, help="the bucket name"),
        "prefix": Option(_prefix, default="", help="a key prefix to publish under (default: the bucket's root)"),
        "endpoint_url": Option(_endpoint, help="the S3 API URL of a MinIO/Ceph/SeaweedFS server (default: AWS)"),
        "region": Option(text, default="us-east-1", help="the bucket's region"),
        "access_key_id_variable": Option(variable_name, default="AWS_ACCESS_KEY_ID", help="env variable with the access key id"),
        "secret_access_key_variable": Option(variable_name, default="AWS_SECRET_ACCESS_KEY", help="env variable with the secret key"),
        "session_token_variable": Option(variable_name, default="AWS_SESSION_TOKEN", help="env variable with a session token (optional)"),
        "prune": Option(ownership.path_patterns, default=(), help="patterns of objects not ours to delete too, such as ['old/*']"),
    }

    def describe(self) -> str:
        place = f"s3://{self.config['bucket']}/{self.config['prefix']}".rstrip("/")
        endpoint = self.config.get("endpoint_url")
        return f"{place} at {endpoint}" if endpoint else place

    def plan(self, site: BuiltSite) -> list[Change]:
        client = self._client()
        published = self._published(client)
        return self._changes(site, published, self._ours(client, published) | self._pending(client, published))

    def publish(self, site: BuiltSite) -> list[Change]:
        client = self._client()
        # Reach the bucket before writing the lock (some servers create a missing bucket on a write).
        self._call("list the bucket", client.list_objects_v2, Bucket=self.config["bucket"], MaxKeys=1)
        with self._lock(client):
            published = self._published(client)
            pending = self._pending(client, published)
            changes = self._changes(site, published, self._ours(client, published) | pending)
            to_upload = {change.path for change in changes if change.action != "delete"}
            if to_upload - pending:  # before the first upload: these are ours even if no manifest follows
                self._call("record what this publish uploads", client.put_object, Bucket=self.config["bucket"],
                           Key=self._key(PENDING_NAME), Body=json.dumps(sorted(pending | to_upload)).encode(),
                           ContentType="application/json")
                pending = pending | to_upload
            for relative_path in site.upload_order()[:-1]:  # the manifest goes up last, below
                if relative_path in to_upload:
                    self._upload(client, site, relative_path)
            self._delete(client, [change.path for change in changes if change.action == "delete"])
            if MANIFEST_NAME in to_upload:
                self._upload(client, site, MANIFEST_NAME)
            if pending:  # the manifest now says what is ours
                self._call("remove the record of uploads", client.delete_object, Bucket=self.config["bucket"],
                           Key=self._key(PENDING_NAME))
        return changes

    def _pending(self, client, published: dict[str, str]) -> frozenset[str]:
        """What a publish that failed midway had set out to upload (ours, though no manifest lists it)."""
        if PENDING_NAME not in published:
            return frozenset()
        answer = self._call("read the record of uploads", client.get_object,
                            Bucket=self.config["bucket"], Key=self._key(PENDING_NAME))
        try:
            names = json.loads(answer["Body"].read(64 * 1024 * 1024))
        except ValueError:
            return frozenset()
        return frozenset(name for name in names if isinstance(name, str)) if isinstance(names, list) else frozenset()

    def _upload(self, client, site: BuiltSite, relative_path: str) -> None:
        with open(site.path(relative_path), "rb") as body:
            self._call(
                "upload",
                client.put_object,
                Bucket=self.config["bucket"],
                Key=self._key(relative_path),
                Body=body,
                ContentType=content_type(relative_path),
            )

    def _delete(self, client, relative_paths: list[str]) -> None:
        stale = [self._key(path) for path in relative_paths]
        for start in range(0, len(stale), 1000):
            batch = stale[start : start + 1000]
            answer = self._call(
                "delete stale objects",
                client.delete_objects,
                Bucket=self.config["bucket"],
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise PublishError(
                    f"{self.describe()}: the new site is up but {counted(len(answer['Errors']), 'stale object')} could not "
                    f"be deleted ({first.get('Key')}: {first.get('Code')}); check delete permission and publish again"
                )

    # --- one publish at a time ---------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, client) -> Iterator[None]:
        """Hold the lock object while the body runs (a second publish finds it and stops)."""
        key = self._key(LOCK_NAME)
        token = secrets.token_hex(16)
        now = datetime.now(timezone.utc)
        expires = now + timedelta(seconds=self.timeout_seconds + LOCK_MARGIN_SECONDS)
        body = json.dumps({"token": token, "started_at": _iso(now), "expires_at": _iso(expires)}).encode()
        etag = self._take_lock(client, key, body, token)
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self._release_lock(client, key, etag, token)
            raise
        try:
            self._release_lock(client, key, etag, token)
        except PublishError as error:
            raise PublishError(
                f"{self.describe()}: the site is published, but its lock {key} could not be removed "
                f"({error.message}); the next publish waits until {_shown_time(expires)}, or delete that object"
            ) from None

    def _take_lock(self, client, key: str, body: bytes, token: str) -> str:
        bucket = self.config["bucket"]
        try:
            answer = self._call("create the publish lock", client.put_object, handled=_PRECONDITION_CODES | _UNSUPPORTED_CODES,
                                Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
        except _Refused as refused:
            if refused.code in _UNSUPPORTED_CODES:
                raise self._no_conditional_writes() from None
            answer = self._take_expired_lock(client, key, body)
        etag = answer.get("ETag", "")
        # A server that ignored the condition would let two publishes both "create" the lock: read it back.
        held = self._read_lock(client, key)
        if held is None or held[0].get("token") != token:
            raise self._busy(key, held[0] if held else {})
        return etag

    def _take_expired_lock(self, client, key: str, body: bytes) -> dict:
        held = self._read_lock(client, key)
        if held is None:  # released meanwhile: try once more from the start
            try:
                return self._call("create the publish lock", client.put_object, handled=_PRECONDITION_CODES,
                                  Bucket=self.config["bucket"], Key=key, Body=body, ContentType="application/json",
                                  IfNoneMatch="*")
            except _Refused:
                raise self._busy(key, {}) from None
        lock, etag = held
        expires = _parse_time(lock.get("expires_at"))
        if expires is None or expires > datetime.now(timezone.utc):
            raise self._busy(key, lock)
        try:  # a killed publish's lock: take it over, unless another publish just did
            return self._call("take over an expired publish lock", client.put_object, handled=_PRECONDITION_CODES,
                              Bucket=self.config["bucket"], Key=key, Body=body, ContentType="application/json",
                              IfMatch=etag)
        except _Refused:
            raise self._busy(key, {}) from None

    def _read_lock(self, client, key: str) -> tuple[dict, str] | None:
        """The lock's content and ETag, or ``None`` when there is no lock."""
        try:
            answer = self._call("read the publish lock", client.get_object, handled={"NoSuchKey", "404", "NotFound"},
                                Bucket=self.config["bucket"], Key=key)
        except _Refused:
            return None
        raw = answer["Body"].read(65536)
        try:
            lock = json.loads(raw)
        except ValueError:
            lock = None
        return (lock if isinstance(lock, dict) else {}), answer.get("ETag", "")

    def _release_lock(self, client, key: str, etag: str, token: str) -> None:
        """Delete the lock if it is still ours (conditionally where the server can)."""
        bucket = self.config["bucket"]
        try:
            if etag:
                self._call("remove the publish lock", client.delete_object,
                           handled=_PRECONDITION_CODES | _UNSUPPORTED_CODES | {"InvalidArgument", "NoSuchKey", "404"},
                           Bucket=bucket, Key=key, IfMatch=etag)
                return
        except _Refused as refused:
            if refused.code not in _UNSUPPORTED_CODES | {"InvalidArgument"}:
                return  # taken over or gone: not ours to delete
        held = self._read_lock(client, key)  # no conditional delete here: check, then delete
        if held is not None and held[0].get("token") == token:
            self._call("remove the publish lock", client.delete_object, Bucket=bucket, Key=key)

    def _busy(self, key: str, lock: dict) -> PublishError:
        started = _parse_time(lock.get("started_at"))
        expires = _parse_time(lock.get("expires_at"))
        since = f" (started {_shown_time(started)}, its lock expires {_shown_time(expires)})" if started and expires else ""
        return PublishError(
            f"{self.describe()}: another publish to this target is in progress{since}; wait for it and publish "
            f"again, or if none is running (a killed publish), delete the object {key} and publish again"
        )

    def _no_conditional_writes(self) -> PublishError:
        endpoint = self.config.get("endpoint_url") or "AWS S3"
        return PublishError(
            f"S3 at {endpoint} does not support conditional writes (If-None-Match), which keep two publishes from "
            f"mixing their files; use a server that does (AWS S3, MinIO, Ceph, SeaweedFS)"
        )

    # --- S3 ------------------------------------------------------------------------

    def _client(self):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise PublishError(
                "the s3 publish target needs boto3; install it with: pip install 'billing-reports[s3]'"
            ) from None
        access_key = self.require_secret(self.config["access_key_id_variable"], "the S3 access key id")
        secret_key = self.require_secret(self.config["secret_access_key_variable"], "the S3 secret access key")
        session_token = self.secret(self.config["session_token_variable"])
        addressing = {"addressing_style": "path"} if self.config.get("endpoint_url") else {}
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.config.get("endpoint_url"),
            region_name=self.config["region"],
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            config=Config(
                connect_timeout=10,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
                s3=addressing,
            ),
        )

    def _key(self, relative_path: str) -> str:
        prefix = self.config["prefix"]
        return f"{prefix}/{relative_path}" if prefix else relative_path

    def _published(self, client) -> dict[str, str]:
        """Relative path -> ETag (without quotes) of every object under the prefix, but the lock."""
        prefix = self.config["prefix"]
        start = f"{prefix}/" if prefix else ""
        objects: dict[str, str] = {}
        token = None
        while True:
            arguments = {"Bucket": self.config["bucket"], "Prefix": start}
            if token:
                arguments["ContinuationToken"] = token
            page = self._call("list the bucket", client.list_objects_v2, **arguments)
            for item in page.get("Contents", []):
                relative_path = item["Key"][len(start) :]
                if relative_path and not relative_path.endswith("/") and relative_path != LOCK_NAME:
                    objects[relative_path] = item.get("ETag", "").strip('"')  # (not a console's "folder" marker)
            if not page.get("IsTruncated"):
                return objects
            token = page.get("NextContinuationToken")

    def _ours(self, client, published: dict[str, str]) -> frozenset[str]:
        """What the published manifest says an earlier publish put there."""
        if MANIFEST_NAME not in published:
            return frozenset()
        answer = self._call("read the published manifest", client.get_object,
                            Bucket=self.config["bucket"], Key=self._key(MANIFEST_NAME))
        return ownership.previous_files(answer["Body"].read(), self.describe())

    def _changes(self, site: BuiltSite, published: dict[str, str], ours: frozenset[str]) -> list[Change]:
        """Uploads in upload order, then deletions (of ours and pruned objects only), then the manifest."""
        changes = []
        for relative_path in site.upload_order():
            if relative_path not in published:
                changes.append(Change("add", relative_path))
            elif published[relative_path] != site.md5(relative_path):
                changes.append(Change("update", relative_path))
        manifest = [change for change in changes if change.path == MANIFEST_NAME]
        changes = [change for change in changes if change.path != MANIFEST_NAME]
        site_objects = {path: etag for path, etag in published.items() if path != PENDING_NAME}  # (ours, not site)
        stale = ownership.stale(site_objects, ours, site.all_files, self.config["prune"])
        return [*changes, *(Change("delete", path) for path in stale), *manifest]

    def _call(self, action: str, method, *, handled: set[str] = frozenset(), **arguments):
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.exceptions import ConnectionError as EndpointConnectionError

        endpoint = self.config.get("endpoint_url") or "AWS S3"
        bucket = self.config["bucket"]
        try:
            return method(**arguments)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in handled or status in handled:
                raise _Refused(code if code in handled else status) from None
            message = error.response.get("Error", {}).get("Message", "") or code
            variables = f"{self.config['access_key_id_variable']} and {self.config['secret_access_key_variable']}"
            if code in _CREDENTIAL_CODES:
                raise PublishError(
                    f"S3 at {endpoint} refused the credentials ({code}) while trying to {action}; check {variables}"
                ) from None
            if code in _MISSING_BUCKET_CODES:
                raise PublishError(
                    f"S3 bucket {bucket!r} does not exist at {endpoint}; create it or fix publish.targets.{self.name}.bucket"
                ) from None
            if code in _DENIED_CODES:
                raise PublishError(
                    f"S3 at {endpoint} denied access to bucket {bucket!r} ({code}) while trying to {action}; "
                    f"check the permissions of the key in {self.config['access_key_id_variable']}"
                ) from None
            raise PublishError(f"S3 at {endpoint}: cannot {action} in bucket {bucket!r} ({code}: {message})") from None
        except EndpointConnectionError:
            raise PublishError(
                f"cannot reach S3 at {endpoint}; check publish.targets.{self.name}.endpoint_url and that the server is up"
            ) from None
        except BotoCoreError as error:
            raise PublishError(f"S3 at {endpoint}: cannot {action} ({error}); check the endpoint and the network") from None
        except OSError as error:
            raise PublishError(f"cannot {action}: {error}") from None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _shown_time(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "at an unknown time"


@hookimpl
def register_publish_targets(register):
    register("s3", S3Target)
