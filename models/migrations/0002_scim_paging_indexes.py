"""SCIM paging: (workspace_id, created_at, id) indexes so a deep startIndex walks an index, not the table.

GET /Users and /Groups order by (created_at, id) for stable pages (RFC 7644 §3.4.2.4); with the id in the
index the page's ids come from the index alone, and only the rows of the page are read.
"""

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "member_workspace_id_created_at_id" ON "member" '
    '("workspace_id", "created_at", "id")',
    'CREATE INDEX IF NOT EXISTS "member_group_workspace_id_created_at_id" ON "member_group" '
    '("workspace_id", "created_at", "id")',
]


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "member_workspace_id_created_at_id"')
    db.execute_sql('DROP INDEX IF EXISTS "member_group_workspace_id_created_at_id"')
