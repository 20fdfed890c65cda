"""Publish to an S3-compatible bucket (AWS S3, or MinIO/Ceph/SeaweedFS through ``endpoint_url``).

Every file is uploaded with its ``Content-Type``; assets and pages go up
before the index (and the manifest last), so a reader never meets an index
that links to a page not yet uploaded; objects of the previous site that the
new one no longer has are deleted only after everything new is in. Unchanged
files (same MD5 as the object's ETag) are not uploaded again.

Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and
``AWS_SESSION_TOKEN`` if set) in the environment or ``.env``; the
``*_variable`` options name other variables.
"""

from __future__ import annotations

from typing import Any

from ... import hookimpl
from ...errors import PublishError
from ..site import BuiltSite, content_type
from ..target import Change, Option, PublishTarget, text, variable_name

_CREDENTIAL_CODES = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "InvalidSecurity"}
_MISSING_BUCKET_CODES = {"NoSuchBucket", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}


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
    }

    def describe(self) -> str:
        place = f"s3://{self.config['bucket']}/{self.config['prefix']}".rstrip("/")
        endpoint = self.config.get("endpoint_url")
        return f"{place} at {endpoint}" if endpoint else place

    def plan(self, site: BuiltSite) -> list[Change]:
        client = self._client()
        return self._changes(site, self._published(client))

    def publish(self, site: BuiltSite) -> list[Change]:
        client = self._client()
        published = self._published(client)
        changes = self._changes(site, published)
        to_upload = {change.path for change in changes if change.action != "delete"}
        for relative_path in site.upload_order():
            if relative_path in to_upload:
                with open(site.path(relative_path), "rb") as body:
                    self._call(
                        "upload",
                        client.put_object,
                        Bucket=self.config["bucket"],
                        Key=self._key(relative_path),
                        Body=body,
                        ContentType=content_type(relative_path),
                    )
        stale = [self._key(change.path) for change in changes if change.action == "delete"]
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
                    f"{self.describe()}: the new site is up but {len(answer['Errors'])} stale object(s) could not "
                    f"be deleted ({first.get('Key')}: {first.get('Code')}); check delete permission and publish again"
                )
        return changes

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
        """Relative path -> ETag (without quotes) of every object under the prefix."""
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
                if relative_path and not relative_path.endswith("/"):  # not a console's "folder" marker
                    objects[relative_path] = item.get("ETag", "").strip('"')
            if not page.get("IsTruncated"):
                return objects
            token = page.get("NextContinuationToken")

    @staticmethod
    def _changes(site: BuiltSite, published: dict[str, str]) -> list[Change]:
        changes = []
        for relative_path in site.upload_order():
            if relative_path not in published:
                changes.append(Change("add", relative_path))
            elif published[relative_path] != site.md5(relative_path):
                changes.append(Change("update", relative_path))
        wanted = set(site.all_files)
        changes += [Change("delete", path) for path in sorted(published.keys() - wanted)]
        return changes

    def _call(self, action: str, method, **arguments):
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.exceptions import ConnectionError as EndpointConnectionError

        endpoint = self.config.get("endpoint_url") or "AWS S3"
        bucket = self.config["bucket"]
        try:
            return method(**arguments)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
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


@hookimpl
def register_publish_targets(register):
    register("s3", S3Target)
