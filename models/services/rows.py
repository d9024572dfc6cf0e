"""Writing workspace rows: column lengths and single-UPDATE saves that keep the tenant filter."""

from peewee import IntegrityError

from ..db import db, tenant_filter
from . import DuplicateError, InvalidError

COLUMN_MAX = 320


def check_length(label, value):
    """Refuse (400) a string longer than the indexed columns hold."""
    if isinstance(value, str) and len(value) > COLUMN_MAX:
        raise InvalidError(f"Attribute '{label}' is longer than {COLUMN_MAX} characters")


def save_row(row, clash, **fields):
    """Write `fields` of a workspace's row in one UPDATE that keeps the workspace filter (PRODUCT.md: Citus).

    A unique-index race is a DuplicateError (409) with the message `clash`; the row object is updated on success.
    """
    model = type(row)
    try:
        with db.atomic():
            model.update(**fields).where(model.id == row.id,
                                         tenant_filter(model.workspace, row.workspace_id)).execute()
    except IntegrityError:
        raise DuplicateError(clash) from None
    for key, value in fields.items():
        setattr(row, key, value)
