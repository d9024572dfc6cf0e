"""Member lifecycle and provenance: a member's type, time zone and last activity; where members and groups came
from (`source`), backfilled from what the database already knows.

Frozen DDL as of this migration (models/directory.py). Backfill:

- the owner is of type `owner` and source `owner`; everyone else is `standard`;
- a member or group whose creation the provisioning log recorded over SCIM (`user.created` / `group.created`
  by an IdP) is `scim:<idp>` (`scim:unknown` when the request did not say which IdP sent it);
- a member whose email has an accepted invitation in the workspace is `invitation`;
- other members are `scim:unknown`: before this migration members came only from SCIM, invitations and workspace
  creation; groups came only from SCIM, so every group is `scim:<idp>`.
"""

from peewee import PostgresqlDatabase

DDL = {
    "postgres": [
        'ALTER TABLE "member" ADD COLUMN "type" VARCHAR(16) NOT NULL DEFAULT \'standard\'',
        'ALTER TABLE "member" ADD COLUMN "source" VARCHAR(64) NOT NULL DEFAULT \'admin\'',
        'ALTER TABLE "member" ADD COLUMN "time_zone" VARCHAR(64)',
        'ALTER TABLE "member" ADD COLUMN "last_active_at" TIMESTAMP',
        'ALTER TABLE "member_group" ADD COLUMN "source" VARCHAR(64) NOT NULL DEFAULT \'admin\'',
    ],
    "sqlite": [
        'ALTER TABLE "member" ADD COLUMN "type" VARCHAR(16) NOT NULL DEFAULT \'standard\'',
        'ALTER TABLE "member" ADD COLUMN "source" VARCHAR(64) NOT NULL DEFAULT \'admin\'',
        'ALTER TABLE "member" ADD COLUMN "time_zone" VARCHAR(64)',
        'ALTER TABLE "member" ADD COLUMN "last_active_at" DATETIME',
        'ALTER TABLE "member_group" ADD COLUMN "source" VARCHAR(64) NOT NULL DEFAULT \'admin\'',
    ],
}


def _created_over_scim(table, operation):
    """SQL: the IdP of the successful SCIM creation of the row of `table` the log recorded, or NULL."""
    return (f'(SELECT COALESCE(e."idp", \'unknown\') FROM "provisioning_event" AS e '
            f'WHERE e."workspace_id" = "{table}"."workspace_id" AND e."target_id" = "{table}"."id" '
            f'AND e."operation" = \'{operation}\' AND e."status" < 400 AND e."actor_kind" = \'service\' '
            f'ORDER BY e."seq" LIMIT 1)')


def backfill(db):
    p = db.param
    db.execute_sql(f'UPDATE "member" SET "type" = \'owner\', "source" = \'owner\' WHERE "is_owner" = {p}', [True])
    user_idp = _created_over_scim("member", "user.created")
    db.execute_sql(f'UPDATE "member" SET "source" = \'scim:\' || {user_idp} '
                   f'WHERE "is_owner" = {p} AND {user_idp} IS NOT NULL', [False])
    db.execute_sql(f'UPDATE "member" SET "source" = \'invitation\' WHERE "is_owner" = {p} '
                   f'AND "source" = \'admin\' AND EXISTS (SELECT 1 FROM "invitation" AS i '
                   f'WHERE i."workspace_id" = "member"."workspace_id" AND i."email" = "member"."email_ci" '
                   f'AND i."status" = \'accepted\')', [False])
    db.execute_sql(f'UPDATE "member" SET "source" = \'scim:unknown\' WHERE "is_owner" = {p} '
                   f'AND "source" = \'admin\'', [False])
    group_idp = _created_over_scim("member_group", "group.created")
    db.execute_sql(f'UPDATE "member_group" SET "source" = \'scim:\' || COALESCE({group_idp}, \'unknown\')')


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)
    backfill(db)


def down(migrator, db):
    db.execute_sql('ALTER TABLE "member_group" DROP COLUMN "source"')
    for column in ("last_active_at", "time_zone", "source", "type"):
        db.execute_sql(f'ALTER TABLE "member" DROP COLUMN "{column}"')
