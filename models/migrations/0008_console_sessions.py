"""The console's sign-in: mailed one-time codes and links, and server-side sessions.

Frozen DDL as of this migration (generated from models/sessions.py with peewee's schema manager).
"""

from peewee import PostgresqlDatabase

DDL = {'postgres': ['CREATE TABLE "signin_code" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "email" VARCHAR(320) NOT NULL, '
              '"code_hash" VARCHAR(64), "link_hash" VARCHAR(64) NOT NULL, "attempts" INTEGER NOT NULL, "used" '
              'BOOLEAN NOT NULL, "created_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT NULL)',
              'CREATE UNIQUE INDEX "signin_code_link_hash" ON "signin_code" ("link_hash")',
              'CREATE INDEX "signin_code_email_created_at" ON "signin_code" ("email", "created_at")',
              'CREATE TABLE "console_session" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "person_id" VARCHAR(36) NOT '
              'NULL, "token_hash" VARCHAR(64) NOT NULL, "created_at" TIMESTAMP NOT NULL, "last_seen_at" TIMESTAMP '
              'NOT NULL, "expires_at" TIMESTAMP NOT NULL, "ended_at" TIMESTAMP, "ip" VARCHAR(64), "user_agent" '
              'VARCHAR(400), FOREIGN KEY ("person_id") REFERENCES "person" ("id") ON DELETE CASCADE)',
              'CREATE INDEX "console_session_person_id" ON "console_session" ("person_id")',
              'CREATE UNIQUE INDEX "console_session_token_hash" ON "console_session" ("token_hash")',
              'CREATE INDEX "console_session_person_id_created_at" ON "console_session" ("person_id", "created_at")'],
       'sqlite': ['CREATE TABLE "signin_code" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "email" VARCHAR(320) NOT NULL, '
            '"code_hash" VARCHAR(64), "link_hash" VARCHAR(64) NOT NULL, "attempts" INTEGER NOT NULL, "used" INTEGER '
            'NOT NULL, "created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL)',
            'CREATE UNIQUE INDEX "signin_code_link_hash" ON "signin_code" ("link_hash")',
            'CREATE INDEX "signin_code_email_created_at" ON "signin_code" ("email", "created_at")',
            'CREATE TABLE "console_session" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "person_id" VARCHAR(36) NOT '
            'NULL, "token_hash" VARCHAR(64) NOT NULL, "created_at" DATETIME NOT NULL, "last_seen_at" DATETIME NOT '
            'NULL, "expires_at" DATETIME NOT NULL, "ended_at" DATETIME, "ip" VARCHAR(64), "user_agent" VARCHAR(400), '
            'FOREIGN KEY ("person_id") REFERENCES "person" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "console_session_person_id" ON "console_session" ("person_id")',
            'CREATE UNIQUE INDEX "console_session_token_hash" ON "console_session" ("token_hash")',
            'CREATE INDEX "console_session_person_id_created_at" ON "console_session" ("person_id", "created_at")']}


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)


def down(migrator, db):
    for table in ("console_session", "signin_code"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
