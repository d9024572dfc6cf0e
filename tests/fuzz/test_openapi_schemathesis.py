"""schemathesis over the admin API's own OpenAPI document, against the live app: no operation answers a
server error, and every documented response matches its documented schema (`not_a_server_error`,
`response_schema_conformance`). Seeded (`derandomize`) and bounded in examples per operation."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = 8  # per operation
CHECKS = [not_a_server_error, response_schema_conformance]


def test_admin_api_keeps_its_openapi_contract(live_roster):
    schema = schemathesis.openapi.from_url(f"{live_roster.url}/api/openapi.json", timeout=30)
    headers = {"Authorization": f"Bearer {live_roster.owner_token}"}
    failures, operations, calls = [], 0, []

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            # Half the examples address the live workspace, so the operations are exercised past the 404.
            if case.path_parameters and "ws" in case.path_parameters and len(calls) % 2 == 0:
                case.path_parameters["ws"] = live_roster.slug
            calls.append(operation.label)
            case.call_and_validate(base_url=live_roster.url, headers=headers, checks=CHECKS, timeout=30)

        try:
            check()
        except Exception as error:  # collected, so one run reports every operation that fails
            failures.append(f"{operation.label}: {str(error)[:1500]}")

    print(f"schemathesis: {operations} operations, {len(calls)} calls, {len(CHECKS)} checks each")
    assert operations >= 40
    assert not failures, "\n\n".join(failures)
