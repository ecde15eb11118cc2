"""Every route of /openapi.json fuzzed by schemathesis: whatever it is sent, valid or not, the
API answers without a 5xx, and every answer it documents matches its documented schema.

The calls are an operator's (who may reach every route), on a seeded market over the real
server; generated ids mostly name nothing, so most answers are 4xx problems, which is the
point: a bad request must be refused cleanly, never crash a handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from hutong.migrate import upgrade
from tests.api.market import build_market
from tests.conftest import LiveServer, make_settings, own_world, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'hutong.sqlite3'}"
    upgrade(url)
    with own_world(make_settings(tmp, url)) as world, serving(world) as server:
        build_market(server).close()  # tenants, keys and platforms to be found
        yield server


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> Any:
    with live.client() as client:
        document = client.get("/openapi.json").json()
    return schemathesis.openapi.from_dict(document)


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def fuzz(operation: Any, live: LiveServer) -> None:
    """Hypothesis drives one operation's generated cases, valid and invalid alike."""
    headers = {"Authorization": f"Bearer {live.world.operator_key}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run: a failure here is reproducible
        database=None,
        phases=[Phase.explicit, Phase.generate],  # report the case as found, unshrunk
        suppress_health_check=list(HealthCheck),
    )
    def cases(case: Any) -> None:
        # a settlement run on Spark starts a session: slow, not wrong
        case.call_and_validate(base_url=live.url, headers=headers, checks=CHECKS, timeout=180)

    cases()


EXAMPLES = 12


def test_no_route_answers_5xx_or_breaks_its_documented_schema(
    api_schema: Any, live: LiveServer
) -> None:
    failures, tried = [], 0
    for found in api_schema.get_all_operations():
        operation = found.ok()
        tried += 1
        try:
            fuzz(operation, live)
        except (Exception, BaseExceptionGroup) as exc:  # every route's verdict
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert tried > 50, tried  # the whole API was walked
    assert not failures, "\n\n".join(failures)
