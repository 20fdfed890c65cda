"""The s3 target against a real S3-compatible server (SeaweedFS ``weed mini``, one per session)."""

from __future__ import annotations

import itertools

import pytest
from servers import free_port, run_cli, write_built_site, write_config

from billing_reports.publish.publisher import publish_site
from billing_reports.publish.targets.s3 import S3Target
from billing_reports.settings import load_settings

pytestmark = pytest.mark.server

FIRST_BUILD = {
    "billing_dashboard.html": "<h1>Dashboard v1</h1>",
    "users/index.html": "<h1>Users</h1>",
    "assets/site.css": "body{}",
    "assets/app.js": "console.log(1)",
    "data/monthly.csv": "month,on_demand_cost\n2026-01,$12.50\n",
    "data/monthly.json": '{"2026-01": 1250}',
    "charts/trend.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
}
SECOND_BUILD = {
    "billing_dashboard.html": "<h1>Dashboard v2</h1>",
    "models/index.html": "<h1>Models</h1>",
    "assets/site.css": "body{}",
    "data/monthly.csv": "month,on_demand_cost\n2026-01,$12.50\n2026-02,$7.25\n",
}
_buckets = itertools.count()


@pytest.fixture
def bucket(s3_server):
    """A new, empty bucket for one test."""
    name = f"billing-site-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def project(tmp_path, s3_server, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    target = {"type": "s3", "bucket": bucket, "prefix": "reports/billing", "endpoint_url": s3_server.endpoint_url}
    write_config(tmp_path, {"targets": {"bucket": target}})
    return tmp_path


def objects(s3_server, bucket) -> dict[str, str]:
    """Key -> Content-Type of every object in the bucket."""
    client = s3_server.client()
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.head_object(Bucket=bucket, Key=key)["ContentType"] for key in keys}


def body(s3_server, bucket, key) -> str:
    return s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def test_publish_uploads_every_file_with_its_content_type(project, s3_server, bucket):
    write_built_site(project / "site", FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Published January 2026 – February 2026 (8 files; names people: not for the whole company) to bucket "
        f"(s3://{bucket}/reports/billing at {s3_server.endpoint_url}): 8 added, 0 updated, 0 deleted."
    )
    assert objects(s3_server, bucket) == {
        "reports/billing/billing_dashboard.html": "text/html; charset=utf-8",
        "reports/billing/users/index.html": "text/html; charset=utf-8",
        "reports/billing/assets/site.css": "text/css; charset=utf-8",
        "reports/billing/assets/app.js": "text/javascript; charset=utf-8",
        "reports/billing/data/monthly.csv": "text/csv; charset=utf-8",
        "reports/billing/data/monthly.json": "application/json",
        "reports/billing/charts/trend.svg": "image/svg+xml",
        "reports/billing/build-manifest.json": "application/json",
    }
    assert body(s3_server, bucket, "reports/billing/billing_dashboard.html") == "<h1>Dashboard v1</h1>"


def test_a_second_publish_uploads_changes_then_removes_stale_objects(project, s3_server, bucket, monkeypatch):
    settings = load_settings(project / "config.yaml")
    write_built_site(project / "site", FIRST_BUILD)
    publish_site(settings)
    s3_server.client().put_object(Bucket=bucket, Key="elsewhere/keep.txt", Body=b"not ours")
    s3_server.client().put_object(Bucket=bucket, Key="reports/billing/robots.txt", Body=b"not ours either")
    import shutil

    shutil.rmtree(project / "site")
    write_built_site(project / "site", SECOND_BUILD)

    calls = []
    real_client = S3Target._client

    def recording_client(self):
        client = real_client(self)
        client.meta.events.register("provide-client-params.s3.PutObject", lambda params, **_: calls.append(("put", params["Key"])))
        client.meta.events.register("provide-client-params.s3.DeleteObjects", lambda params, **_: calls.append(("delete", len(params["Delete"]["Objects"]))))
        return client

    monkeypatch.setattr(S3Target, "_client", recording_client)
    report = publish_site(settings)

    assert report.counts() == {"add": 1, "update": 3, "delete": 4}
    # under the lock, the record of what it uploads first, then only changed files: the page before
    # the index, then the deletes of the old site's files, the manifest last
    assert calls == [
        ("put", "reports/billing/.billing-reports-publish.lock"),
        ("put", "reports/billing/.billing-reports-pending.json"),
        ("put", "reports/billing/data/monthly.csv"),
        ("put", "reports/billing/models/index.html"),
        ("put", "reports/billing/billing_dashboard.html"),
        ("delete", 4),
        ("put", "reports/billing/build-manifest.json"),
    ]
    assert sorted(objects(s3_server, bucket)) == [
        "elsewhere/keep.txt",  # outside the prefix: not ours, kept
        "reports/billing/assets/site.css",
        "reports/billing/billing_dashboard.html",
        "reports/billing/build-manifest.json",
        "reports/billing/data/monthly.csv",
        "reports/billing/models/index.html",
        "reports/billing/robots.txt",  # under the prefix but not in the published manifest: kept
    ]
    assert body(s3_server, bucket, "reports/billing/billing_dashboard.html") == "<h1>Dashboard v2</h1>"


def test_dry_run_compares_with_the_bucket_and_uploads_nothing(project, s3_server, bucket):
    settings = load_settings(project / "config.yaml")
    write_built_site(project / "site", FIRST_BUILD)
    publish_site(settings)
    import shutil

    shutil.rmtree(project / "site")
    write_built_site(project / "site", SECOND_BUILD)
    before = {key: body(s3_server, bucket, key) for key in objects(s3_server, bucket)}

    result = run_cli("publish", "--dry-run", cwd=project)

    assert result.returncode == 0, result.stderr
    listed = sorted(line.split() for line in result.stdout.splitlines()[1:-1])
    assert listed == sorted(
        [["update", "data/monthly.csv"], ["add", "models/index.html"], ["update", "billing_dashboard.html"],
         ["update", "build-manifest.json"], ["delete", "assets/app.js"], ["delete", "charts/trend.svg"],
         ["delete", "data/monthly.json"], ["delete", "users/index.html"]]
    )
    assert {key: body(s3_server, bucket, key) for key in objects(s3_server, bucket)} == before


def test_a_wrong_secret_is_refused_in_one_line_without_showing_it(project, s3_server, bucket):
    write_built_site(project / "site", FIRST_BUILD)

    result = run_cli("publish", cwd=project, env={"AWS_SECRET_ACCESS_KEY": "wrong-secret-value-123"})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: S3 at {s3_server.endpoint_url} refused the credentials (SignatureDoesNotMatch) while trying to "
        f"list the bucket; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ]
    assert "wrong-secret-value-123" not in result.stdout + result.stderr
    assert s3_server.secret_key not in result.stdout + result.stderr
    assert objects(s3_server, bucket) == {}


def test_credentials_can_come_from_dotenv_under_other_names(tmp_path, s3_server, bucket, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    (tmp_path / ".env").write_text(f"BILLING_S3_KEY={s3_server.access_key}\nBILLING_S3_SECRET={s3_server.secret_key}\n")
    target = {
        "type": "s3", "bucket": bucket, "endpoint_url": s3_server.endpoint_url,
        "access_key_id_variable": "BILLING_S3_KEY", "secret_access_key_variable": "BILLING_S3_SECRET",
    }
    write_config(tmp_path, {"targets": {"bucket": target}})
    write_built_site(tmp_path / "site", {"billing_dashboard.html": "<h1>x</h1>"})

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert sorted(objects(s3_server, bucket)) == ["billing_dashboard.html", "build-manifest.json"]
    assert s3_server.secret_key not in result.stdout + result.stderr


def test_missing_credentials_name_the_variables(project, s3_server):
    write_built_site(project / "site", FIRST_BUILD)

    result = run_cli("publish", cwd=project, env={"AWS_ACCESS_KEY_ID": ""})

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: publish target 'bucket': the S3 access key id is not set; put AWS_ACCESS_KEY_ID=... in the "
        "environment or in .env (never in config.yaml)"
    )


def test_a_missing_bucket_is_one_clear_line(tmp_path, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    write_config(tmp_path, {"targets": {"b": {"type": "s3", "bucket": "no-such-bucket", "endpoint_url": s3_server.endpoint_url}}})
    write_built_site(tmp_path / "site", FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: S3 bucket 'no-such-bucket' does not exist at {s3_server.endpoint_url}; "
        f"create it or fix publish.targets.b.bucket"
    )


def test_an_unreachable_endpoint_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    endpoint = f"http://127.0.0.1:{free_port()}"
    write_config(tmp_path, {"targets": {"b": {"type": "s3", "bucket": "site", "endpoint_url": endpoint}}})
    write_built_site(tmp_path / "site", FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot reach S3 at {endpoint}; check publish.targets.b.endpoint_url and that the server is up"
    )


def test_without_boto3_the_error_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "boto3", None)  # as if it were not installed
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    write_config(tmp_path, {"targets": {"b": {"type": "s3", "bucket": "site"}}})
    write_built_site(tmp_path / "site", FIRST_BUILD)

    from billing_reports.errors import PublishError

    with pytest.raises(PublishError) as caught:
        publish_site(load_settings(tmp_path / "config.yaml"))
    assert caught.value.message == (
        "the s3 publish target needs boto3; install it with: pip install 'billing-reports[s3]'"
    )


# --- only ours is deleted, one publish at a time, a deadline (issue 11) ------------------------------


def rebuild(project, files):
    import shutil

    shutil.rmtree(project / "site", ignore_errors=True)
    write_built_site(project / "site", files)


@pytest.mark.parametrize("prefix", ["reports/billing", ""])
def test_objects_an_earlier_publish_did_not_put_there_are_kept_unless_pruned(tmp_path, s3_server, bucket, monkeypatch, prefix):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    target = {"type": "s3", "bucket": bucket, "prefix": prefix, "endpoint_url": s3_server.endpoint_url}
    write_config(tmp_path, {"targets": {"bucket": target}})
    key = (lambda name: f"{prefix}/{name}") if prefix else (lambda name: name)
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=key("CNAME"), Body=b"reports.example.com")  # there before the first publish
    rebuild(tmp_path, FIRST_BUILD)
    publish_site(load_settings(tmp_path / "config.yaml"))
    client.put_object(Bucket=bucket, Key=key("old/report.pdf"), Body=b"%PDF")  # added by someone since
    rebuild(tmp_path, SECOND_BUILD)

    dry_run = run_cli("publish", "--dry-run", cwd=tmp_path)
    report = publish_site(load_settings(tmp_path / "config.yaml"))

    deletions = sorted(line.split()[1] for line in dry_run.stdout.splitlines() if line.strip().startswith("delete"))
    assert deletions == ["assets/app.js", "charts/trend.svg", "data/monthly.json", "users/index.html"]
    assert sorted(change.path for change in report.changes if change.action == "delete") == deletions
    assert {key("CNAME"), key("old/report.pdf")} <= set(objects(s3_server, bucket))

    target["prune"] = ["old/*"]
    write_config(tmp_path, {"targets": {"bucket": target}})
    settings = load_settings(tmp_path / "config.yaml")
    assert [str(change) for change in publish_site(settings, dry_run=True).changes] == ["delete old/report.pdf"]
    publish_site(settings)
    assert sorted(objects(s3_server, bucket)) == sorted(key(name) for name in [*SECOND_BUILD, "CNAME", "build-manifest.json"])


def test_a_second_publish_while_one_runs_fails_in_one_line_and_the_site_is_the_first_ones(project, s3_server, bucket, tmp_path_factory, monkeypatch):
    other = tmp_path_factory.mktemp("other-checkout")
    (other / "config.yaml").write_text((project / "config.yaml").read_text())
    write_built_site(other / "site", SECOND_BUILD)
    rebuild(project, FIRST_BUILD)
    second = []
    real_client = S3Target._client

    def client_that_starts_a_second_publish(self):
        client = real_client(self)

        def on_put(params, **_):
            if params["Key"].endswith("users/index.html") and not second:  # midway through the first
                second.append(run_cli("publish", cwd=other))

        client.meta.events.register("provide-client-params.s3.PutObject", on_put)
        return client

    monkeypatch.setattr(S3Target, "_client", client_that_starts_a_second_publish)
    report = publish_site(load_settings(project / "config.yaml"))

    assert second[0].returncode == 1
    lines = second[0].stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: s3://{bucket}/reports/billing at {s3_server.endpoint_url}: "
                                                   "another publish to this target is in progress (started ")
    assert lines[0].endswith("; wait for it and publish again, or if none is running (a killed publish), delete the "
                             "object reports/billing/.billing-reports-publish.lock and publish again")
    assert report.counts()["add"] == 8
    # the first publish's site, whole, and its lock gone
    assert sorted(objects(s3_server, bucket)) == sorted(f"reports/billing/{name}" for name in [*FIRST_BUILD, "build-manifest.json"])
    assert body(s3_server, bucket, "reports/billing/billing_dashboard.html") == "<h1>Dashboard v1</h1>"


def test_the_lock_of_a_killed_publish_holds_until_it_expires_then_is_taken_over(project, s3_server, bucket):
    import json

    lock_key = "reports/billing/.billing-reports-publish.lock"
    client = s3_server.client()
    rebuild(project, FIRST_BUILD)
    client.put_object(Bucket=bucket, Key=lock_key, Body=json.dumps(
        {"token": "k1ll3d", "started_at": "2099-01-01T10:00:00Z", "expires_at": "2099-01-01T10:11:00Z"}).encode())

    held = run_cli("publish", cwd=project)

    assert held.returncode == 1
    assert "in progress (started 2099-01-01 10:00:00 UTC, its lock expires 2099-01-01 10:11:00 UTC)" in held.stderr
    assert sorted(objects(s3_server, bucket)) == [lock_key]

    client.put_object(Bucket=bucket, Key=lock_key, Body=json.dumps(
        {"token": "k1ll3d", "started_at": "2026-01-01T10:00:00Z", "expires_at": "2026-01-01T10:11:00Z"}).encode())
    dry_run = run_cli("publish", "--dry-run", cwd=project)
    taken_over = run_cli("publish", cwd=project)

    assert "lock" not in dry_run.stdout  # never a file of the site, never a deletion
    assert taken_over.returncode == 0, taken_over.stderr
    assert lock_key not in objects(s3_server, bucket)


def test_a_stalled_server_is_given_up_after_the_deadline_in_one_line(tmp_path, monkeypatch):
    import time

    from servers import StalledServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    write_built_site(tmp_path / "site", FIRST_BUILD)
    with StalledServer() as stalled:
        target = {"type": "s3", "bucket": "site", "endpoint_url": stalled.url, "timeout_seconds": 1}
        write_config(tmp_path, {"targets": {"b": target}})
        started = time.monotonic()
        result = run_cli("publish", cwd=tmp_path, timeout=60)
        took = time.monotonic() - started

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: publish target 'b' (s3) did not finish within 1 s, so it was stopped; the server stopped answering "
        "or is too slow: check it and publish again (a large site on a slow link may need a higher "
        "publish.targets.b.timeout_seconds)"
    ]
    assert took < 15


def test_a_publish_cut_off_midway_leaves_the_previous_site_and_releases_its_lock(project, s3_server, bucket, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from billing_reports.errors import PublishError

    settings = load_settings(project / "config.yaml")
    rebuild(project, FIRST_BUILD)
    publish_site(settings)
    before = {key: body(s3_server, bucket, key) for key in objects(s3_server, bucket)}
    rebuild(project, SECOND_BUILD)
    real_client = S3Target._client

    def client_losing_the_network_at_the_second_page(self):
        client = real_client(self)

        def on_put(params, **_):
            if params["Key"].endswith("billing_dashboard.html"):  # the new page is up, the index is not
                raise EndpointConnectionError(endpoint_url=s3_server.endpoint_url)

        client.meta.events.register("provide-client-params.s3.PutObject", on_put)
        return client

    monkeypatch.setattr(S3Target, "_client", client_losing_the_network_at_the_second_page)
    with pytest.raises(PublishError, match="cannot reach S3"):
        publish_site(settings)

    after = {key: body(s3_server, bucket, key) for key in objects(s3_server, bucket)}
    for key in ("reports/billing/billing_dashboard.html", "reports/billing/build-manifest.json"):
        assert after[key] == before[key]  # the previous index and manifest...
    assert set(before) <= set(after)  # ...and every file they list (changed assets may be new already)
    # the new page, unlinked, and the record that it is ours
    assert sorted(set(after) - set(before)) == ["reports/billing/.billing-reports-pending.json",
                                                "reports/billing/models/index.html"]
    monkeypatch.setattr(S3Target, "_client", real_client)
    assert publish_site(settings).counts() == {"add": 0, "update": 2, "delete": 4}  # and no lock in the way


def test_pages_a_failed_publish_uploaded_are_ours_and_deleted_when_the_site_drops_them(project, s3_server, bucket,
                                                                                        monkeypatch):
    """No manifest lists what a publish cut off midway uploaded; the record it wrote first does, so a
    page the next site no longer has (a removed user's, say) does not stay public for ever."""
    from botocore.exceptions import EndpointConnectionError

    from billing_reports.errors import PublishError

    settings = load_settings(project / "config.yaml")
    rebuild(project, FIRST_BUILD)
    publish_site(settings)
    rebuild(project, SECOND_BUILD)  # adds models/index.html
    real_client = S3Target._client

    def client_losing_the_network_at_the_index(self):
        client = real_client(self)

        def on_put(params, **_):
            if params["Key"].endswith("billing_dashboard.html"):
                raise EndpointConnectionError(endpoint_url=s3_server.endpoint_url)

        client.meta.events.register("provide-client-params.s3.PutObject", on_put)
        return client

    monkeypatch.setattr(S3Target, "_client", client_losing_the_network_at_the_index)
    with pytest.raises(PublishError):
        publish_site(settings)
    assert "reports/billing/models/index.html" in objects(s3_server, bucket)
    monkeypatch.setattr(S3Target, "_client", real_client)
    rebuild(project, FIRST_BUILD)  # the new page is gone from the site

    report = publish_site(settings)

    assert "models/index.html" in [change.path for change in report.changes if change.action == "delete"]
    left = objects(s3_server, bucket)
    assert "reports/billing/models/index.html" not in left
    assert not any(key.endswith(".billing-reports-pending.json") for key in left)  # the record goes with success
