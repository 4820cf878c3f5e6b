"""Publishing the web dashboard: the files of its folder to its bucket, its ``config.json`` from the
stack, the files of the previous release removed, its Content-Security-Policy made to name the
API, and CloudFront's caches invalidated. And, when the stack goes, emptying the bucket.

The Content-Security-Policy is set here rather than in the template because the template cannot
hold it: the HTTP API's CORS names the distribution's domain, so the distribution (and the
response headers policy it uses) is created before the API and cannot name the API's domain.
The template creates the policy without the API in ``connect-src`` (the page cannot reach the API
until a release sets it: closed, not open), and names the policy a release sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from apimeter.dal import site as hosting
from apimeter.domain import site
from apimeter.observability import logger


@dataclass(frozen=True, slots=True)
class Published:
    files: int
    removed: int
    policy_changed: bool
    invalidation_id: str


def package(root: Path) -> dict[str, Path]:
    """Key -> file, for every file of the app under ``root``."""
    found = {}
    for directory, folders, names in os.walk(root, followlinks=True):
        folders.sort()
        for name in names:
            path = Path(directory, name)
            key = path.relative_to(root).as_posix()
            if site.is_published(key):
                found[key] = path
    if site.ENTRY_POINT not in found:
        # An empty or missing folder would otherwise publish nothing and remove the live release.
        raise FileNotFoundError(f"no {site.ENTRY_POINT} under {root}: was dashboard/ there when sam build ran?")
    return found


def publish(root: Path, release: site.Release, reference: str) -> Published:
    """Write the release, then remove what the previous one left; ``reference`` names the request
    (a retried request makes one invalidation)."""
    files = package(root)
    bodies = {key: path.read_bytes for key, path in files.items()} | {site.CONFIG: release.config}
    for key in site.upload_order(bodies):
        hosting.put(release.bucket, key, bodies[key](), site.content_type(key), site.cache_control(key))
    stale = site.stale_keys(hosting.keys(release.bucket), bodies)
    hosting.delete(release.bucket, stale)
    changed = hosting.set_content_security_policy(release.headers_policy_id, release.content_security_policy)
    invalidation = hosting.invalidate(release.distribution_id, reference)
    logger.info(
        "dashboard published",
        extra={"bucket": release.bucket, "files": len(bodies), "removed": stale, "invalidation": invalidation},
    )
    return Published(len(bodies), len(stale), changed, invalidation)


def withdraw(bucket: str) -> int:
    """Empty the bucket, so that CloudFormation can delete it; returns how many files went."""
    removed = hosting.empty(bucket)
    logger.info("dashboard withdrawn", extra={"bucket": bucket, "removed": removed})
    return removed
