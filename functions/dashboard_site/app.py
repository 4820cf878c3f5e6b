"""Publishes the web dashboard: a CloudFormation custom resource (DashboardSite in template.yaml).

Create and Update write the files of ``dashboard/`` (shipped in this function's package as
``site/``) and a ``config.json`` naming the stack's APIs to the dashboard's bucket, remove the
previous release's other files and invalidate the distribution's caches; Delete empties the bucket
so that CloudFormation can delete it.
"""

from __future__ import annotations

from pathlib import Path

from apimeter.api.custom_resource import Outcome, Request, custom_resource
from apimeter.domain.site import Release
from apimeter.logic import site

# Beside this file in the package: `sam build` copies the link's target (see template.yaml).
SITE = Path(__file__).with_name("site")


def _publish(request: Request) -> Outcome:
    release = Release.model_validate(request.properties)
    published = site.publish(SITE, release, request.request_id)
    data = {"Files": str(published.files), "InvalidationId": published.invalidation_id}
    return Outcome(physical_id=release.bucket, data=data)


def _withdraw(request: Request) -> None:
    bucket = request.properties.get("Bucket")
    if bucket:  # absent only when a Create failed before it was named: nothing was written
        site.withdraw(str(bucket))


lambda_handler = custom_resource(change=_publish, remove=_withdraw)
