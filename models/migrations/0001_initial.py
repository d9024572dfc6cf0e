"""Initial schema: workspaces, people, members, roles, groups, grants, tokens, invitations, codes.

Frozen DDL as of this migration (generated from the models then); later changes get new migrations.
"""

from peewee import PostgresqlDatabase

DDL = {'postgres': ['CREATE TABLE "workspace" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "name" VARCHAR(200) NOT NULL, '
              '"slug" VARCHAR(64) NOT NULL, "logo_url" TEXT, "settings" JSONB NOT NULL, "environments" JSONB NOT '
              'NULL, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL)',
              'CREATE UNIQUE INDEX "workspace_slug" ON "workspace" ("slug")',
              'CREATE TABLE "person" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "email" VARCHAR(320) NOT NULL, '
              '"name" VARCHAR(200) NOT NULL, "created_at" TIMESTAMP NOT NULL)',
              'CREATE UNIQUE INDEX "person_email" ON "person" ("email")',
              'CREATE TABLE "role" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
              '"name" VARCHAR(100) NOT NULL, "name_ci" VARCHAR(100) NOT NULL, "description" TEXT NOT NULL, '
              '"is_system" BOOLEAN NOT NULL, "privileges" JSONB NOT NULL, "created_at" TIMESTAMP NOT NULL, '
              '"updated_at" TIMESTAMP NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON '
              'DELETE CASCADE)',
              'CREATE INDEX "role_workspace_id" ON "role" ("workspace_id")',
              'CREATE UNIQUE INDEX "role_workspace_id_name_ci" ON "role" ("workspace_id", "name_ci")',
              'CREATE TABLE "member" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
              '"person_id" VARCHAR(36) NOT NULL, "user_name" VARCHAR(320) NOT NULL, "user_name_ci" VARCHAR(320) '
              'NOT NULL, "external_id" VARCHAR(320), "display_name" VARCHAR(320), "email_ci" VARCHAR(320), '
              '"status" VARCHAR(16) NOT NULL, "is_owner" BOOLEAN NOT NULL, "attributes" JSONB NOT NULL, "version" '
              'INTEGER NOT NULL, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, FOREIGN KEY '
              '("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY ("person_id") '
              'REFERENCES "person" ("id") ON DELETE RESTRICT)',
              'CREATE INDEX "member_workspace_id" ON "member" ("workspace_id")',
              'CREATE INDEX "member_person_id" ON "member" ("person_id")',
              'CREATE UNIQUE INDEX "member_workspace_id_user_name_ci" ON "member" ("workspace_id", '
              '"user_name_ci")',
              'CREATE UNIQUE INDEX "member_workspace_id_person_id" ON "member" ("workspace_id", "person_id")',
              'CREATE INDEX "member_workspace_id_external_id" ON "member" ("workspace_id", "external_id")',
              'CREATE INDEX "member_workspace_id_email_ci" ON "member" ("workspace_id", "email_ci")',
              'CREATE INDEX "member_workspace_id_created_at" ON "member" ("workspace_id", "created_at")',
              'CREATE TABLE "member_role" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
              '"member_id" VARCHAR(36) NOT NULL, "environment" VARCHAR(16) NOT NULL, "role_id" VARCHAR(36) NOT '
              'NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY '
              '("member_id") REFERENCES "member" ("id") ON DELETE CASCADE, FOREIGN KEY ("role_id") REFERENCES '
              '"role" ("id") ON DELETE RESTRICT)',
              'CREATE INDEX "member_role_workspace_id" ON "member_role" ("workspace_id")',
              'CREATE INDEX "member_role_member_id" ON "member_role" ("member_id")',
              'CREATE INDEX "member_role_role_id" ON "member_role" ("role_id")',
              'CREATE UNIQUE INDEX "member_role_member_id_environment" ON "member_role" ("member_id", '
              '"environment")',
              'CREATE INDEX "member_role_workspace_id_role_id" ON "member_role" ("workspace_id", "role_id")',
              'CREATE TABLE "member_group" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
              'NULL, "display_name" VARCHAR(320) NOT NULL, "display_name_ci" VARCHAR(320) NOT NULL, "external_id" '
              'VARCHAR(320), "attributes" JSONB NOT NULL, "version" INTEGER NOT NULL, "created_at" TIMESTAMP NOT '
              'NULL, "updated_at" TIMESTAMP NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") '
              'ON DELETE CASCADE)',
              'CREATE INDEX "member_group_workspace_id" ON "member_group" ("workspace_id")',
              'CREATE UNIQUE INDEX "member_group_workspace_id_display_name_ci" ON "member_group" ("workspace_id", '
              '"display_name_ci")',
              'CREATE INDEX "member_group_workspace_id_external_id" ON "member_group" ("workspace_id", '
              '"external_id")',
              'CREATE INDEX "member_group_workspace_id_created_at" ON "member_group" ("workspace_id", '
              '"created_at")',
              'CREATE TABLE "group_member" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
              'NULL, "group_id" VARCHAR(36) NOT NULL, "member_id" VARCHAR(36) NOT NULL, "created_at" TIMESTAMP '
              'NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN '
              'KEY ("group_id") REFERENCES "member_group" ("id") ON DELETE CASCADE, FOREIGN KEY ("member_id") '
              'REFERENCES "member" ("id") ON DELETE CASCADE)',
              'CREATE INDEX "group_member_workspace_id" ON "group_member" ("workspace_id")',
              'CREATE INDEX "group_member_group_id" ON "group_member" ("group_id")',
              'CREATE INDEX "group_member_member_id" ON "group_member" ("member_id")',
              'CREATE UNIQUE INDEX "group_member_group_id_member_id" ON "group_member" ("group_id", "member_id")',
              'CREATE TABLE "group_grant" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
              '"group_id" VARCHAR(36) NOT NULL, "environment" VARCHAR(16) NOT NULL, "role_id" VARCHAR(36) NOT '
              'NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY '
              '("group_id") REFERENCES "member_group" ("id") ON DELETE CASCADE, FOREIGN KEY ("role_id") '
              'REFERENCES "role" ("id") ON DELETE RESTRICT)',
              'CREATE INDEX "group_grant_workspace_id" ON "group_grant" ("workspace_id")',
              'CREATE INDEX "group_grant_group_id" ON "group_grant" ("group_id")',
              'CREATE INDEX "group_grant_role_id" ON "group_grant" ("role_id")',
              'CREATE UNIQUE INDEX "group_grant_group_id_environment" ON "group_grant" ("group_id", '
              '"environment")',
              'CREATE INDEX "group_grant_workspace_id_role_id" ON "group_grant" ("workspace_id", "role_id")',
              'CREATE TABLE "token" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "kind" VARCHAR(16) NOT NULL, '
              '"workspace_id" VARCHAR(36), "person_id" VARCHAR(36), "scopes" JSONB NOT NULL, "label" VARCHAR(200) '
              'NOT NULL, "prefix" VARCHAR(32) NOT NULL, "token_hash" VARCHAR(64) NOT NULL, "created_by_id" '
              'VARCHAR(36), "created_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP, "last_used_at" TIMESTAMP, '
              '"revoked_at" TIMESTAMP, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE '
              'CASCADE, FOREIGN KEY ("person_id") REFERENCES "person" ("id") ON DELETE CASCADE, FOREIGN KEY '
              '("created_by_id") REFERENCES "person" ("id") ON DELETE SET NULL)',
              'CREATE INDEX "token_workspace_id" ON "token" ("workspace_id")',
              'CREATE INDEX "token_person_id" ON "token" ("person_id")',
              'CREATE UNIQUE INDEX "token_token_hash" ON "token" ("token_hash")',
              'CREATE INDEX "token_created_by_id" ON "token" ("created_by_id")',
              'CREATE INDEX "token_workspace_id_created_at" ON "token" ("workspace_id", "created_at")',
              'CREATE INDEX "token_person_id_created_at" ON "token" ("person_id", "created_at")',
              'CREATE TABLE "invitation" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
              'NULL, "email" VARCHAR(320) NOT NULL, "name" VARCHAR(200) NOT NULL, "env_roles" JSONB NOT NULL, '
              '"inviter_id" VARCHAR(36), "token_hash" VARCHAR(64) NOT NULL, "status" VARCHAR(16) NOT NULL, '
              '"created_at" TIMESTAMP NOT NULL, "last_sent_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT '
              'NULL, "accepted_at" TIMESTAMP, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON '
              'DELETE CASCADE, FOREIGN KEY ("inviter_id") REFERENCES "person" ("id") ON DELETE SET NULL)',
              'CREATE INDEX "invitation_workspace_id" ON "invitation" ("workspace_id")',
              'CREATE INDEX "invitation_inviter_id" ON "invitation" ("inviter_id")',
              'CREATE UNIQUE INDEX "invitation_token_hash" ON "invitation" ("token_hash")',
              'CREATE INDEX "invitation_workspace_id_email" ON "invitation" ("workspace_id", "email")',
              'CREATE INDEX "invitation_workspace_id_created_at" ON "invitation" ("workspace_id", "created_at")',
              'CREATE TABLE "one_time_code" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
              'NOT NULL, "person_id" VARCHAR(36) NOT NULL, "purpose" VARCHAR(40) NOT NULL, "code_hash" '
              'VARCHAR(64) NOT NULL, "attempts" INTEGER NOT NULL, "created_at" TIMESTAMP NOT NULL, "expires_at" '
              'TIMESTAMP NOT NULL, "used" BOOLEAN NOT NULL, "detail" TEXT NOT NULL, FOREIGN KEY ("workspace_id") '
              'REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY ("person_id") REFERENCES "person" '
              '("id") ON DELETE CASCADE)',
              'CREATE INDEX "one_time_code_workspace_id" ON "one_time_code" ("workspace_id")',
              'CREATE INDEX "one_time_code_person_id" ON "one_time_code" ("person_id")',
              'CREATE INDEX "one_time_code_workspace_id_purpose_person_id" ON "one_time_code" ("workspace_id", '
              '"purpose", "person_id")'],
 'sqlite': ['CREATE TABLE "workspace" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "name" VARCHAR(200) NOT NULL, '
            '"slug" VARCHAR(64) NOT NULL, "logo_url" TEXT, "settings" TEXT NOT NULL, "environments" TEXT NOT '
            'NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL)',
            'CREATE UNIQUE INDEX "workspace_slug" ON "workspace" ("slug")',
            'CREATE TABLE "person" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "email" VARCHAR(320) NOT NULL, "name" '
            'VARCHAR(200) NOT NULL, "created_at" DATETIME NOT NULL)',
            'CREATE UNIQUE INDEX "person_email" ON "person" ("email")',
            'CREATE TABLE "role" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
            '"name" VARCHAR(100) NOT NULL, "name_ci" VARCHAR(100) NOT NULL, "description" TEXT NOT NULL, '
            '"is_system" INTEGER NOT NULL, "privileges" TEXT NOT NULL, "created_at" DATETIME NOT NULL, '
            '"updated_at" DATETIME NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE '
            'CASCADE)',
            'CREATE INDEX "role_workspace_id" ON "role" ("workspace_id")',
            'CREATE UNIQUE INDEX "role_workspace_id_name_ci" ON "role" ("workspace_id", "name_ci")',
            'CREATE TABLE "member" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
            '"person_id" VARCHAR(36) NOT NULL, "user_name" VARCHAR(320) NOT NULL, "user_name_ci" VARCHAR(320) NOT '
            'NULL, "external_id" VARCHAR(320), "display_name" VARCHAR(320), "email_ci" VARCHAR(320), "status" '
            'VARCHAR(16) NOT NULL, "is_owner" INTEGER NOT NULL, "attributes" TEXT NOT NULL, "version" INTEGER NOT '
            'NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, FOREIGN KEY ("workspace_id") '
            'REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY ("person_id") REFERENCES "person" '
            '("id") ON DELETE RESTRICT)',
            'CREATE INDEX "member_workspace_id" ON "member" ("workspace_id")',
            'CREATE INDEX "member_person_id" ON "member" ("person_id")',
            'CREATE UNIQUE INDEX "member_workspace_id_user_name_ci" ON "member" ("workspace_id", "user_name_ci")',
            'CREATE UNIQUE INDEX "member_workspace_id_person_id" ON "member" ("workspace_id", "person_id")',
            'CREATE INDEX "member_workspace_id_external_id" ON "member" ("workspace_id", "external_id")',
            'CREATE INDEX "member_workspace_id_email_ci" ON "member" ("workspace_id", "email_ci")',
            'CREATE INDEX "member_workspace_id_created_at" ON "member" ("workspace_id", "created_at")',
            'CREATE TABLE "member_role" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
            '"member_id" VARCHAR(36) NOT NULL, "environment" VARCHAR(16) NOT NULL, "role_id" VARCHAR(36) NOT '
            'NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY '
            '("member_id") REFERENCES "member" ("id") ON DELETE CASCADE, FOREIGN KEY ("role_id") REFERENCES '
            '"role" ("id") ON DELETE RESTRICT)',
            'CREATE INDEX "member_role_workspace_id" ON "member_role" ("workspace_id")',
            'CREATE INDEX "member_role_member_id" ON "member_role" ("member_id")',
            'CREATE INDEX "member_role_role_id" ON "member_role" ("role_id")',
            'CREATE UNIQUE INDEX "member_role_member_id_environment" ON "member_role" ("member_id", '
            '"environment")',
            'CREATE INDEX "member_role_workspace_id_role_id" ON "member_role" ("workspace_id", "role_id")',
            'CREATE TABLE "member_group" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "display_name" VARCHAR(320) NOT NULL, "display_name_ci" VARCHAR(320) NOT NULL, "external_id" '
            'VARCHAR(320), "attributes" TEXT NOT NULL, "version" INTEGER NOT NULL, "created_at" DATETIME NOT '
            'NULL, "updated_at" DATETIME NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON '
            'DELETE CASCADE)',
            'CREATE INDEX "member_group_workspace_id" ON "member_group" ("workspace_id")',
            'CREATE UNIQUE INDEX "member_group_workspace_id_display_name_ci" ON "member_group" ("workspace_id", '
            '"display_name_ci")',
            'CREATE INDEX "member_group_workspace_id_external_id" ON "member_group" ("workspace_id", '
            '"external_id")',
            'CREATE INDEX "member_group_workspace_id_created_at" ON "member_group" ("workspace_id", "created_at")',
            'CREATE TABLE "group_member" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
            '"group_id" VARCHAR(36) NOT NULL, "member_id" VARCHAR(36) NOT NULL, "created_at" DATETIME NOT NULL, '
            'FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY '
            '("group_id") REFERENCES "member_group" ("id") ON DELETE CASCADE, FOREIGN KEY ("member_id") '
            'REFERENCES "member" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "group_member_workspace_id" ON "group_member" ("workspace_id")',
            'CREATE INDEX "group_member_group_id" ON "group_member" ("group_id")',
            'CREATE INDEX "group_member_member_id" ON "group_member" ("member_id")',
            'CREATE UNIQUE INDEX "group_member_group_id_member_id" ON "group_member" ("group_id", "member_id")',
            'CREATE TABLE "group_grant" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT NULL, '
            '"group_id" VARCHAR(36) NOT NULL, "environment" VARCHAR(16) NOT NULL, "role_id" VARCHAR(36) NOT NULL, '
            'FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY '
            '("group_id") REFERENCES "member_group" ("id") ON DELETE CASCADE, FOREIGN KEY ("role_id") REFERENCES '
            '"role" ("id") ON DELETE RESTRICT)',
            'CREATE INDEX "group_grant_workspace_id" ON "group_grant" ("workspace_id")',
            'CREATE INDEX "group_grant_group_id" ON "group_grant" ("group_id")',
            'CREATE INDEX "group_grant_role_id" ON "group_grant" ("role_id")',
            'CREATE UNIQUE INDEX "group_grant_group_id_environment" ON "group_grant" ("group_id", "environment")',
            'CREATE INDEX "group_grant_workspace_id_role_id" ON "group_grant" ("workspace_id", "role_id")',
            'CREATE TABLE "token" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "kind" VARCHAR(16) NOT NULL, '
            '"workspace_id" VARCHAR(36), "person_id" VARCHAR(36), "scopes" TEXT NOT NULL, "label" VARCHAR(200) '
            'NOT NULL, "prefix" VARCHAR(32) NOT NULL, "token_hash" VARCHAR(64) NOT NULL, "created_by_id" '
            'VARCHAR(36), "created_at" DATETIME NOT NULL, "expires_at" DATETIME, "last_used_at" DATETIME, '
            '"revoked_at" DATETIME, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, '
            'FOREIGN KEY ("person_id") REFERENCES "person" ("id") ON DELETE CASCADE, FOREIGN KEY '
            '("created_by_id") REFERENCES "person" ("id") ON DELETE SET NULL)',
            'CREATE INDEX "token_workspace_id" ON "token" ("workspace_id")',
            'CREATE INDEX "token_person_id" ON "token" ("person_id")',
            'CREATE UNIQUE INDEX "token_token_hash" ON "token" ("token_hash")',
            'CREATE INDEX "token_created_by_id" ON "token" ("created_by_id")',
            'CREATE INDEX "token_workspace_id_created_at" ON "token" ("workspace_id", "created_at")',
            'CREATE INDEX "token_person_id_created_at" ON "token" ("person_id", "created_at")',
            'CREATE TABLE "invitation" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "email" VARCHAR(320) NOT NULL, "name" VARCHAR(200) NOT NULL, "env_roles" TEXT NOT NULL, '
            '"inviter_id" VARCHAR(36), "token_hash" VARCHAR(64) NOT NULL, "status" VARCHAR(16) NOT NULL, '
            '"created_at" DATETIME NOT NULL, "last_sent_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, '
            '"accepted_at" DATETIME, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE '
            'CASCADE, FOREIGN KEY ("inviter_id") REFERENCES "person" ("id") ON DELETE SET NULL)',
            'CREATE INDEX "invitation_workspace_id" ON "invitation" ("workspace_id")',
            'CREATE INDEX "invitation_inviter_id" ON "invitation" ("inviter_id")',
            'CREATE UNIQUE INDEX "invitation_token_hash" ON "invitation" ("token_hash")',
            'CREATE INDEX "invitation_workspace_id_email" ON "invitation" ("workspace_id", "email")',
            'CREATE INDEX "invitation_workspace_id_created_at" ON "invitation" ("workspace_id", "created_at")',
            'CREATE TABLE "one_time_code" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "person_id" VARCHAR(36) NOT NULL, "purpose" VARCHAR(40) NOT NULL, "code_hash" VARCHAR(64) NOT '
            'NULL, "attempts" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, '
            '"used" INTEGER NOT NULL, "detail" TEXT NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" '
            '("id") ON DELETE CASCADE, FOREIGN KEY ("person_id") REFERENCES "person" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "one_time_code_workspace_id" ON "one_time_code" ("workspace_id")',
            'CREATE INDEX "one_time_code_person_id" ON "one_time_code" ("person_id")',
            'CREATE INDEX "one_time_code_workspace_id_purpose_person_id" ON "one_time_code" ("workspace_id", '
            '"purpose", "person_id")']}


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)


def down(migrator, db):
    for table in ("one_time_code", "invitation", "token", "group_grant", "group_member", "member_group",
                  "member_role", "member", "role", "person", "workspace"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

