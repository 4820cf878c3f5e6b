"""The DashboardSite custom resource against moto: a release written with its types and caching,
the previous release's files removed, the bucket emptied on Delete, and CloudFormation answered
once for every request (a local server stands in for the presigned ResponseURL)."""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from apimeter.api import custom_resource
from apimeter.dal import site as hosting
from apimeter.logic import site as publishing
from offline.lambdas import Context
from offline.template import Stack
from tests.builders import RecordingServer, context, function_module, sample, wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


class CloudFormation(RecordingServer):
    """The ResponseURL: records every PUT as (headers, answer) and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(status, "PUT", "/response?X-Amz-Signature=abc")

    @property
    def answers(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(headers, json.loads(body)) for headers, body in self.received]

    @property
    def answer(self) -> dict[str, Any]:
        assert len(self.answers) == 1, self.answers
        return self.answers[0][1]


class CloudFront:
    """moto's CloudFront (distributions, invalidations) with the one response headers policy moto
    does not have, kept here as CloudFront keeps it: a whole configuration under an ETag."""

    def __init__(self, client: Any, policy: str) -> None:
        self._client = client
        self.etag = "E1"
        self.updates = 0
        self.config: dict[str, Any] = {
            "Name": "apimeter-dev-dashboard",
            "SecurityHeadersConfig": {
                "ContentSecurityPolicy": {"ContentSecurityPolicy": policy, "Override": True},
                "FrameOptions": {"FrameOption": "DENY", "Override": True},
            },
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_response_headers_policy_config(self, Id: str) -> dict[str, Any]:
        assert Id == "policy-1"
        return {"ResponseHeadersPolicyConfig": copy.deepcopy(self.config), "ETag": self.etag}

    def update_response_headers_policy(self, Id: str, IfMatch: str, ResponseHeadersPolicyConfig: Any) -> None:
        assert (Id, IfMatch) == ("policy-1", self.etag)
        self.config = ResponseHeadersPolicyConfig
        self.updates += 1
        self.etag = f"E{self.updates + 1}"

    @property
    def policy(self) -> str:
        return str(self.config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])


class Hosting:
    def __init__(self, stack: Stack, root: Path, cloudformation: CloudFormation, cloudfront: CloudFront) -> None:
        self.root = root
        self.bucket = stack.physical_name("DashboardBucket")
        self.s3 = boto3.client("s3")
        self.cloudformation = cloudformation
        self.cloudfront = cloudfront
        self.distribution_id = ""

    def write(self, files: dict[str, str]) -> None:
        """The dashboard folder as the package holds it (``site/``), replacing what was there."""
        for path in sorted(self.root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        for name, text in files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)

    def event(self, kind: str = "Create", **properties: str) -> dict[str, Any]:
        event = sample("dashboard_site")
        event.update({"RequestType": kind, "ResponseURL": self.cloudformation.url})
        event["ResourceProperties"].update(
            {"Bucket": self.bucket, "DistributionId": self.distribution_id, "HeadersPolicyId": "policy-1"}
        )
        event["ResourceProperties"].update(properties)
        if kind != "Create":
            event["PhysicalResourceId"] = self.bucket
        if kind == "Update":
            event["OldResourceProperties"] = copy.deepcopy(event["ResourceProperties"])
        return event

    def run(self, event: dict[str, Any], lambda_context: Context | None = None) -> dict[str, Any]:
        self.cloudformation.received.clear()
        result: dict[str, Any] = function_module("dashboard_site").lambda_handler(
            event, lambda_context or context("dashboard-site")
        )
        return result

    def stored(self) -> dict[str, GetObjectOutputTypeDef]:
        found = {}
        for item in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            found[item["Key"]] = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])
        return found

    def invalidations(self) -> list[str]:
        listed = self.cloudfront.list_invalidations(DistributionId=self.distribution_id)["InvalidationList"]
        paths = []
        for item in listed.get("Items", []):
            found = self.cloudfront.get_invalidation(DistributionId=self.distribution_id, Id=item["Id"])
            paths.extend(found["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
        return paths


APP = {
    "index.html": '<!doctype html><script type="module" src="src/main.js"></script>',
    "src/main.js": "import './old.js';",
    "src/old.js": "export {};",
    "style.css": "body{}",
    "favicon.svg": "<svg/>",
    # never published
    "package.json": "{}",
    "node_modules/uplot/dist/uPlot.esm.js": "export {};",
    "tests/main.test.js": "",
    ".editorconfig": "",
    "config.json": '{"api_url": "http://127.0.0.1:3000"}',
}


@pytest.fixture
def hosting_(aws: dict[str, Any], stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hosting]:
    cloudformation = CloudFormation()
    hosting._s3.cache_clear()
    created = stack.resolve(stack.resources["DashboardHeaders"]["Properties"])["ResponseHeadersPolicyConfig"]
    cloudfront = CloudFront(
        boto3.client("cloudfront"), created["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    )
    monkeypatch.setattr(hosting, "_cloudfront", lambda: cloudfront)
    monkeypatch.setattr(function_module("dashboard_site"), "SITE", tmp_path / "site")
    setup = Hosting(stack, tmp_path / "site", cloudformation, cloudfront)
    setup.distribution_id = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "dashboard",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [{"Id": "bucket", "DomainName": f"{setup.bucket}.s3.us-east-1.amazonaws.com"}],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "bucket",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_OPTIMIZED,
            },
        }
    )["Distribution"]["Id"]
    setup.write(APP)
    yield setup
    cloudformation.close()
    hosting._s3.cache_clear()


def test_create_publishes_the_app_with_its_types_caching_and_config(hosting_: Hosting) -> None:
    event = hosting_.event()
    assert hosting_.run(event) == {"Status": "SUCCESS", "RequestId": event["RequestId"]}

    headers, answer = hosting_.cloudformation.answers[0]
    assert headers["content-type"] == ""  # the presigned URL was signed without one
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == hosting_.bucket
    assert (answer["RequestId"], answer["StackId"], answer["LogicalResourceId"]) == (
        event["RequestId"],
        event["StackId"],
        "DashboardSite",
    )
    assert answer["Data"]["Files"] == "6"

    stored = hosting_.stored()
    assert set(stored) == {"index.html", "src/main.js", "src/old.js", "style.css", "favicon.svg", "config.json"}
    kinds = {key: (item["ContentType"], item["CacheControl"]) for key, item in stored.items()}
    assert kinds["index.html"] == ("text/html; charset=utf-8", "no-cache")
    assert kinds["config.json"] == ("application/json", "no-cache")
    assert kinds["src/main.js"] == ("text/javascript; charset=utf-8", "public, max-age=3600, s-maxage=86400")
    assert kinds["style.css"] == ("text/css; charset=utf-8", "public, max-age=3600, s-maxage=86400")
    assert kinds["favicon.svg"][0] == "image/svg+xml"
    assert stored["index.html"]["Body"].read() == APP["index.html"].encode()
    properties = event["ResourceProperties"]
    assert json.loads(stored["config.json"]["Body"].read()) == {  # the stack's, not the folder's own
        "api_url": properties["ApiUrl"],
        "live_url": properties["LiveUrl"],
    }
    assert hosting_.invalidations() == ["/*"]
    assert hosting_.cloudfront.policy == properties["ContentSecurityPolicy"]  # the API is reachable now
    assert hosting_.cloudfront.config["SecurityHeadersConfig"]["FrameOptions"]["FrameOption"] == "DENY"  # kept


def test_update_publishes_the_new_release_and_removes_the_previous_ones_files(hosting_: Hosting) -> None:
    hosting_.run(hosting_.event())
    updates = hosting_.cloudfront.updates
    release = {k: v for k, v in APP.items() if k != "src/old.js"}
    hosting_.write({**release, "src/main.js": "import './charts.js';", "src/charts.js": "export {};"})

    hosting_.run(hosting_.event("Update", ApiUrl="https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"))

    answer = hosting_.cloudformation.answer
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", hosting_.bucket)  # not replaced
    stored = hosting_.stored()
    assert "src/old.js" not in stored
    assert stored["src/main.js"]["Body"].read() == b"import './charts.js';"
    assert "src/charts.js" in stored
    assert hosting_.invalidations() == ["/*", "/*"]
    assert hosting_.cloudfront.updates == updates  # the policy already named the API


def test_a_release_sets_the_policy_again_after_cloudformation_reset_it(hosting_: Hosting) -> None:
    hosting_.run(hosting_.event())
    hosting_.cloudfront.config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"] = "x"
    hosting_.run(hosting_.event("Update", HeadersPolicyVersion="2026-11-30T08:00:00Z"))
    assert hosting_.cloudfront.policy == hosting_.event()["ResourceProperties"]["ContentSecurityPolicy"]


def test_delete_empties_the_bucket_so_cloudformation_can_remove_it(hosting_: Hosting) -> None:
    hosting_.run(hosting_.event())
    hosting_.s3.put_object(Bucket=hosting_.bucket, Key="left/behind.txt", Body=b"x")
    assert hosting_.stored()

    event = hosting_.event("Delete")
    hosting_.run(event)

    assert hosting_.stored() == {}
    answer = hosting_.cloudformation.answer
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", hosting_.bucket)
    hosting_.s3.delete_bucket(Bucket=hosting_.bucket)  # empty, as CloudFormation needs it
    hosting_.run(event)  # a retried Delete, the bucket gone: still done
    assert hosting_.cloudformation.answer["Status"] == "SUCCESS"


def test_a_create_that_cannot_work_fails_with_its_reason_and_writes_nothing(hosting_: Hosting) -> None:
    event = hosting_.event(ApiUrl="http://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com")
    assert hosting_.run(event)["Status"] == "FAILED"
    answer = hosting_.cloudformation.answer
    assert answer["Status"] == "FAILED"
    assert "ApiUrl must be an https URL" in answer["Reason"]
    assert "log stream" in answer["Reason"]
    assert answer["PhysicalResourceId"] == f"DashboardSite-{event['RequestId']}"
    assert hosting_.stored() == {}
    # CloudFormation's rollback deletes what it could not create, without a bucket name if need be
    rollback = hosting_.event("Delete")
    rollback["PhysicalResourceId"] = answer["PhysicalResourceId"]
    del rollback["ResourceProperties"]["Bucket"]
    hosting_.run(rollback)
    assert hosting_.cloudformation.answer["Status"] == "SUCCESS"


def test_an_update_that_fails_keeps_the_resource_and_the_published_release(hosting_: Hosting) -> None:
    hosting_.run(hosting_.event())
    hosting_.write({"style.css": "body{}"})  # a package without its page would remove the live release

    hosting_.run(hosting_.event("Update"))

    answer = hosting_.cloudformation.answer
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("FAILED", hosting_.bucket)
    assert "no index.html" in answer["Reason"]
    assert "index.html" in hosting_.stored()


def test_an_error_from_aws_is_answered_not_left_hanging(hosting_: Hosting) -> None:
    event = hosting_.event(Bucket="no-such-bucket-anywhere")
    hosting_.run(event)
    answer = hosting_.cloudformation.answer
    assert answer["Status"] == "FAILED"
    assert "NoSuchBucket" in answer["Reason"]


def test_work_that_outlives_the_function_is_answered_failed_before_the_timeout(
    hosting_: Hosting, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished = threading.Event()
    original = publishing.publish

    def slow(*args: Any) -> publishing.Published:
        time.sleep(1.0)
        try:
            return original(*args)
        finally:
            finished.set()

    monkeypatch.setattr(publishing, "publish", slow)
    lambda_context = context("dashboard-site")
    lambda_context._deadline = time.monotonic() + custom_resource.SAFETY_SECONDS + 0.2

    hosting_.run(hosting_.event(), lambda_context)

    assert finished.is_set()
    answer = hosting_.cloudformation.answer  # once: the release's own SUCCESS was not sent after it
    assert answer["Status"] == "FAILED"
    assert "ran out of time" in answer["Reason"]


def test_an_answer_that_cannot_be_delivered_is_retried_then_raised_for_lambda_to_retry(
    hosting_: Hosting, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    hosting_.cloudformation.status = 500
    with pytest.raises(urllib.error.HTTPError):
        hosting_.run(hosting_.event())
    wait_for(lambda: len(hosting_.cloudformation.answers) == custom_resource.SEND_ATTEMPTS)
