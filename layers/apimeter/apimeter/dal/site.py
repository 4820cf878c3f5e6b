"""The dashboard's bucket and its CloudFront distribution: files in, stale files out, the edge
caches invalidated, and the Content-Security-Policy of the distribution's response headers policy.

Keys are the app's paths (``index.html``, ``src/app.js``); the bucket holds nothing else.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from apimeter import aws

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_RETRIES = {"mode": "standard", "max_attempts": 5}
_DELETE_BATCH = 1000  # DeleteObjects' limit


@lru_cache(maxsize=1)
def _s3() -> S3Client:
    client: S3Client = aws.client("s3", retries=_RETRIES)
    return client


@lru_cache(maxsize=1)
def _cloudfront() -> Any:
    return aws.client("cloudfront", retries=_RETRIES)


def put(bucket: str, key: str, body: bytes, content_type: str, cache_control: str) -> None:
    _s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, CacheControl=cache_control)


def keys(bucket: str) -> list[str]:
    found: list[str] = []
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.extend(item["Key"] for item in page.get("Contents", []))
    return found


def delete(bucket: str, names: list[str]) -> None:
    """Delete ``names``; raises when S3 refuses any of them."""
    for start in range(0, len(names), _DELETE_BATCH):
        batch: list[Any] = [{"Key": key} for key in names[start : start + _DELETE_BATCH]]
        answer = _s3().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(f"S3 kept {len(answer['Errors'])} files, {first.get('Key')}: {first.get('Code')}")


def empty(bucket: str) -> int:
    """Delete every file; a bucket that is already gone is empty. Returns how many were deleted."""
    try:
        names = keys(bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return 0
        raise
    delete(bucket, names)
    return len(names)


def invalidate(distribution_id: str, reference: str) -> str:
    """Invalidate every path at the edge; one ``reference`` makes one invalidation however often it
    is asked for. Returns the invalidation's id."""
    answer = _cloudfront().create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": reference},
    )
    return str(answer["Invalidation"]["Id"])


def set_content_security_policy(policy_id: str, policy: str) -> bool:
    """Make ``policy`` the Content-Security-Policy the response headers policy sends; False when it
    already was. The update replaces the whole configuration, so the rest is sent back unchanged."""
    current = _cloudfront().get_response_headers_policy_config(Id=policy_id)
    config = current["ResponseHeadersPolicyConfig"]
    security = config.setdefault("SecurityHeadersConfig", {})
    existing = security.get("ContentSecurityPolicy", {})
    if existing.get("ContentSecurityPolicy") == policy:
        return False
    security["ContentSecurityPolicy"] = {"ContentSecurityPolicy": policy, "Override": existing.get("Override", True)}
    _cloudfront().update_response_headers_policy(
        Id=policy_id, IfMatch=current["ETag"], ResponseHeadersPolicyConfig=config
    )
    return True
