"""The files bucket: exports written in parts (S3 multipart upload) and handed out by presigned
link, and the hourly pipeline's work lists.

Keys: exports/<tenant_id>/<project_id>/<export_id>.<format>; pipeline/<hour>/projects.json and
tenants.json. The bucket's lifecycle rule expires files after a week and aborts uploads left
incomplete.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from apimeter import aws
from apimeter.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@lru_cache(maxsize=1)
def _client() -> S3Client:
    client: S3Client = aws.client("s3", retries={"mode": "standard", "max_attempts": 5})
    return client


def bucket() -> str:
    return settings().require("exports_bucket")


def start_upload(key: str, content_type: str) -> str:
    """Begin a multipart upload; returns its id."""
    return _client().create_multipart_upload(Bucket=bucket(), Key=key, ContentType=content_type)["UploadId"]


def upload_part(key: str, upload_id: str, number: int, body: bytes) -> None:
    _client().upload_part(Bucket=bucket(), Key=key, UploadId=upload_id, PartNumber=number, Body=body)


def complete_upload(key: str, upload_id: str) -> None:
    """Join the uploaded parts (listed from S3, so no part list has to be kept elsewhere)."""
    parts: list[Any] = []
    kwargs: dict[str, Any] = {"Bucket": bucket(), "Key": key, "UploadId": upload_id}
    while True:
        page = _client().list_parts(**kwargs)
        parts.extend({"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in page.get("Parts", []))
        if not page.get("IsTruncated"):
            break
        kwargs["PartNumberMarker"] = page["NextPartNumberMarker"]
    _client().complete_multipart_upload(
        Bucket=bucket(), Key=key, UploadId=upload_id, MultipartUpload={"Parts": sorted(parts, key=_number)}
    )


def _number(part: Any) -> int:
    return int(part["PartNumber"])


def abort_upload(key: str, upload_id: str) -> None:
    _client().abort_multipart_upload(Bucket=bucket(), Key=key, UploadId=upload_id)


def put(key: str, body: bytes, content_type: str) -> None:
    """A file small enough for one request."""
    _client().put_object(Bucket=bucket(), Key=key, Body=body, ContentType=content_type)


def download_link(key: str, file_name: str, expires_in: int) -> str:
    return _client().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket(),
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{file_name}"',
        },
        ExpiresIn=expires_in,
    )


def delete_prefix(prefix: str) -> int:
    """Delete every file under ``prefix`` (a deleted project's exports); returns how many."""
    deleted = 0
    for page in _client().get_paginator("list_objects_v2").paginate(Bucket=bucket(), Prefix=prefix):
        keys: list[Any] = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            _client().delete_objects(Bucket=bucket(), Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted
