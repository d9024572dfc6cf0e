"""Observe what mutations do, besides the provisioning log: `mutation()` calls `record_change` and
`record_failure` from models.services; these tests wrap them."""

import contextlib

import models.services as services


@contextlib.contextmanager
def observing_changes(on_commit=None, on_failure=None):
    """Call on_commit(change) in each mutation's transaction and on_failure(change, error) after a rollback,
    after the provisioning log has recorded it."""
    record_change, record_failure = services.record_change, services.record_failure

    def committed(change):
        record_change(change)
        if on_commit is not None:
            on_commit(change)

    def failed(change, error):
        record_failure(change, error)
        if on_failure is not None:
            on_failure(change, error)

    services.record_change, services.record_failure = committed, failed
    try:
        yield
    finally:
        services.record_change, services.record_failure = record_change, record_failure
