"""The whole HTTP API fuzzed from its own OpenAPI document on the offline stack.

schemathesis runs every operation of docs/openapi.json through every phase (the document's
examples, the edges of every constraint, random data, and the stateful links from a create to its
read, update and delete) with every check of what the document promises (tools/fuzz.py's CHECKS).
This run is bounded so that make test stays quick; make fuzz runs as long as it is asked to.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tools import fuzz

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_api_answers_as_its_document_says(stack: Stack) -> None:
    assert fuzz.main(["--url", stack.client.base, "--max-examples", "3"]) == 0
