"""How template.yaml hosts the web dashboard: a private bucket only its distribution reads, strict
response headers, config.json never kept at the edge, the API's CORS open to the dashboard alone,
and the publishing custom resource wired to what it needs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from offline.template import Stack, load
from tests.builders import sample

ROOT = Path(__file__).resolve().parent.parent.parent
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
API = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
LIVE = "wss://${LiveApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
DISTRIBUTION_ARN = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${DashboardDistribution}"


def _props(stack: Stack, name: str) -> dict[str, Any]:
    props: dict[str, Any] = stack.resources[name]["Properties"]
    return props


def _sub(value: Any) -> str:
    assert isinstance(value, dict), value
    assert set(value) == {"Fn::Sub"}, value
    assert isinstance(value["Fn::Sub"], str), value
    return value["Fn::Sub"]


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


def check_strict(policy: str) -> dict[str, list[str]]:
    """A policy that allows no inline or evaluated script or style, nothing from anywhere, and no framing."""
    found = directives(policy)
    for name, sources in found.items():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "https:"} & set(sources), name
        assert not [s for s in sources if "*" in s], name
    assert found["default-src"] == ["'none'"]
    assert found["script-src"] == ["'self'"]
    assert found["style-src"] == ["'self'"]
    assert found["frame-ancestors"] == ["'none'"]
    assert found["base-uri"] == ["'none'"]
    assert found["form-action"] == ["'none'"]
    return found


# ---- the bucket: private, encrypted, read by the distribution alone ----


def test_the_bucket_is_private_encrypted_and_owned_by_the_account(stack: Stack) -> None:
    bucket = _props(stack, "DashboardBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "WebsiteConfiguration" not in bucket  # a website endpoint would be public and plain http
    assert "AccessControl" not in bucket


def test_only_the_distribution_may_read_the_bucket(stack: Stack) -> None:
    policy = _props(stack, "DashboardBucketPolicy")
    assert policy["Bucket"] == {"Ref": "DashboardBucket"}
    allowed = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allowed) == 1
    (statement,) = allowed
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] in ("s3:GetObject", ["s3:GetObject"])
    assert _sub(statement["Resource"]) == "${DashboardBucket.Arn}/*"
    assert _sub(statement["Condition"]["StringEquals"]["AWS:SourceArn"]) == DISTRIBUTION_ARN
    denied = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": False}} for s in denied)


def test_the_distribution_reaches_the_bucket_through_origin_access_control(stack: Stack) -> None:
    control = _props(stack, "DashboardOriginAccessControl")["OriginAccessControlConfig"]
    assert stack.resources["DashboardOriginAccessControl"]["Type"] == "AWS::CloudFront::OriginAccessControl"
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"], control["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    config = _props(stack, "DashboardDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["DashboardBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["DashboardOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy identity beside it


# ---- the distribution ----


def _behaviors(stack: Stack) -> dict[str, dict[str, Any]]:
    config = _props(stack, "DashboardDistribution")["DistributionConfig"]
    found = {"*": config["DefaultCacheBehavior"]}
    found.update({b["PathPattern"]: b for b in config.get("CacheBehaviors", [])})
    return found


def test_the_distribution_serves_the_app_over_https_compressed_on_http2_and_3(stack: Stack) -> None:
    config = _props(stack, "DashboardDistribution")["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["HttpVersion"] == "http2and3"
    assert config["Enabled"] is True
    for pattern, behavior in _behaviors(stack).items():
        assert behavior["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only"), pattern
        assert behavior["Compress"] is True, pattern
        assert set(behavior["AllowedMethods"]) == {"GET", "HEAD"}, pattern  # nothing writes through it
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "DashboardHeaders"}, pattern


def test_assets_use_caching_optimized_and_config_json_is_never_cached(stack: Stack) -> None:
    behaviors = _behaviors(stack)
    assert behaviors["*"]["CachePolicyId"] == CACHING_OPTIMIZED
    config = behaviors.get("/config.json") or behaviors.get("config.json")
    assert config is not None, "a cache behavior for /config.json"
    assert config["CachePolicyId"] == CACHING_DISABLED


# ---- the response headers ----


def test_security_headers_are_set_and_override_the_origins(stack: Stack) -> None:
    assert stack.resources["DashboardHeaders"]["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    headers = _props(stack, "DashboardHeaders")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"] == {"Override": True}  # nosniff
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] in ("no-referrer", "strict-origin-when-cross-origin")
    for name, header in headers.items():
        assert header["Override"] is True, name


def test_the_published_policy_is_strict_and_names_the_api_and_the_live_api(stack: Stack) -> None:
    published = check_strict(_sub(_props(stack, "DashboardSite")["ContentSecurityPolicy"]))
    assert published["connect-src"] == ["'self'", API, LIVE]
    assert published["img-src"] == ["'self'", "data:"]


def test_the_policy_as_created_is_the_published_one_without_the_api(stack: Stack) -> None:
    """The API's CORS names the distribution, so the distribution's headers policy is created before
    the API and cannot name it: the page cannot reach the API until the first release (closed)."""
    created = check_strict(
        _sub(
            _props(stack, "DashboardHeaders")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
                "ContentSecurityPolicy"
            ]["ContentSecurityPolicy"]
        )
    )
    published = directives(_sub(_props(stack, "DashboardSite")["ContentSecurityPolicy"]))
    assert created == {**published, "connect-src": [s for s in published["connect-src"] if s != API]}
    assert "${HttpApi}" not in str(stack.resources["DashboardHeaders"])


def test_the_checks_catch_a_loose_policy() -> None:
    strict = sample("dashboard_site")["ResourceProperties"]["ContentSecurityPolicy"]
    check_strict(strict)
    for loose in (
        strict.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"),
        strict.replace("style-src 'self'", "style-src 'self' https:"),
        strict.replace("connect-src 'self'", "connect-src 'self' https://*.amazonaws.com"),
        strict.replace("frame-ancestors 'none'", "frame-ancestors *"),
        strict.replace("default-src 'none'", "default-src 'self'"),
    ):
        with pytest.raises(AssertionError):
            check_strict(loose)


# ---- the API's CORS ----


def test_the_api_allows_the_dashboards_origin_and_no_other(stack: Stack) -> None:
    cors = _props(stack, "HttpApi")["CorsConfiguration"]
    condition, with_extra, alone = cors["AllowOrigins"]["Fn::If"]
    assert alone == [{"Fn::Sub": "https://${DashboardDistribution.DomainName}"}]
    assert with_extra == {
        "Fn::Split": [",", {"Fn::Sub": "https://${DashboardDistribution.DomainName},${DashboardExtraOrigins}"}]
    }
    template = load(ROOT / "template.yaml")
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DashboardExtraOrigins"}, ""]}]}
    extra = template["Parameters"]["DashboardExtraOrigins"]
    assert extra["Default"] == ""
    pattern = re.compile(extra["AllowedPattern"])
    for value in ("", "https://dashboard.example.com", "https://a.example.com,https://b.example.com:8443"):
        assert pattern.fullmatch(value), value
    for value in ("*", "http://a.example.com", "https://a.example.com, https://b.example.com", "https://a.com/x", ","):
        assert not pattern.fullmatch(value), value
    assert cors["AllowCredentials"] is False
    assert cors["MaxAge"] == 600
    assert set(cors["AllowMethods"]) == {"GET", "POST", "PATCH", "DELETE", "OPTIONS"}


def test_the_api_allows_every_request_header_the_api_reads() -> None:
    """The authorizer reads x-api-key and authorization; bodies are JSON."""
    template = load(ROOT / "template.yaml")
    allowed = set(template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]["AllowHeaders"])
    source = (ROOT / "layers/apimeter/apimeter/logic/authorization.py").read_text()
    read = set(re.findall(r'_header\(headers, "([a-z-]+)"\)', source))
    assert read == {"x-api-key", "authorization"}
    assert allowed == read | {"content-type"}


# ---- publishing ----


def test_the_site_function_ships_the_dashboard_through_a_link() -> None:
    link = ROOT / "functions" / "dashboard_site" / "site"
    assert link.is_symlink()
    assert os.readlink(link) == "../../dashboard"
    template = load(ROOT / "template.yaml")
    assert template["Resources"]["DashboardSiteFunction"]["Properties"]["CodeUri"] == "functions/dashboard_site"


def test_the_custom_resource_publishes_with_the_stacks_urls_and_again_on_every_change(stack: Stack) -> None:
    site = stack.resources["DashboardSite"]
    assert site["Type"] in ("Custom::DashboardSite", "AWS::CloudFormation::CustomResource")
    props = site["Properties"]
    outputs = load(ROOT / "template.yaml")["Outputs"]
    assert props["ServiceToken"] == {"Fn::GetAtt": ["DashboardSiteFunction", "Arn"]}
    assert props["ApiUrl"] == outputs["ApiUrl"]["Value"]
    assert props["LiveUrl"] == outputs["LiveUrl"]["Value"]
    assert props["Bucket"] == {"Ref": "DashboardBucket"}
    assert props["DistributionId"] == {"Ref": "DashboardDistribution"}
    assert props["HeadersPolicyId"] == {"Ref": "DashboardHeaders"}
    # a new package (a new version) and a changed headers policy each make CloudFormation send an Update
    function = _props(stack, "DashboardSiteFunction")
    assert function["AutoPublishAlias"]
    assert props["Release"] == {"Ref": "DashboardSiteFunction.Version"}
    assert props["HeadersPolicyVersion"] == {"Fn::GetAtt": ["DashboardHeaders", "LastModifiedTime"]}
    # CloudFormation gives up on a silent function well before its default hour
    assert function["Timeout"] < int(props["ServiceTimeout"]) <= 900


def test_the_site_function_may_touch_only_its_bucket_distribution_and_policy(stack: Stack) -> None:
    (policy,) = _props(stack, "DashboardSiteFunction")["Policies"]
    grants = {action: _sub(s["Resource"]) if "Fn::Sub" in s["Resource"] else s["Resource"]
              for s in policy["Statement"] for action in s["Action"]}  # fmt: skip
    assert grants == {
        "s3:PutObject": "${DashboardBucket.Arn}/*",
        "s3:DeleteObject": "${DashboardBucket.Arn}/*",
        "s3:ListBucket": {"Fn::GetAtt": ["DashboardBucket", "Arn"]},
        "cloudfront:CreateInvalidation": DISTRIBUTION_ARN,
        "cloudfront:GetResponseHeadersPolicyConfig": (
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:response-headers-policy/${DashboardHeaders}"
        ),
        "cloudfront:UpdateResponseHeadersPolicy": (
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:response-headers-policy/${DashboardHeaders}"
        ),
    }


def test_the_outputs_name_the_dashboard_and_its_bucket() -> None:
    outputs = load(ROOT / "template.yaml")["Outputs"]
    assert outputs["DashboardUrl"]["Value"] == {"Fn::Sub": "https://${DashboardDistribution.DomainName}/"}
    assert outputs["DashboardBucketName"]["Value"] == {"Ref": "DashboardBucket"}
    assert "OperationsDashboard" in str(outputs["OperationsDashboardUrl"]["Value"])
