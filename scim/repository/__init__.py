"""Workspace-scoped SCIM writes: Users <-> members (models.services.members), Groups <-> groups
(models.services.groups, the membership engine), in `users` and `groups`; reads and rendering in `reads`;
`common` holds the request options and what both write paths share.

SCIM maps its documents onto the services: document validation, PATCH application, If-Match and the IdP quirks
stay here. Every write runs inside `models.services.mutation()` (one transaction) and records what it changed
with `change.record(...)`, including the quirks `normalize_resource`/`apply_patch` applied; the services'
refusals are answered as SCIM errors (DuplicateError -> 409 uniqueness, 400 -> invalidValue). Nothing here reads
`flask.g`: the workspace, the actor and the request's options are arguments.

Users:
- `userName` is unique per workspace, case-insensitively (`user_name_ci`, unique index) -> 409 uniqueness.
- A Person is keyed by the user's primary email (else the first email, else the userName) and created when
  new; it is fixed when the member is created: later email changes update the member, never re-point it to
  another person (a provisioning client could otherwise hand a membership, or the ownership, to someone else).
- `active: false` suspends (status "suspended"), keeping roles and groups; `active: true` reactivates. A PUT
  without `active` keeps the status.
- `roles` are the direct roles: `value` the role name, `type` the environment (it may be left out when the
  workspace has a single environment); `NoAccess` or an environment left out means no direct role there.
  A PUT without `roles` keeps the direct roles (roles are permissions an IdP may not know about); `roles: []`
  in a PUT, or PATCH operations on `roles`, change them. Unknown role or environment -> 400 invalidValue.
- The enterprise `manager.value` must be a User of the workspace (400 invalidValue otherwise).
- The owner cannot be deleted, suspended or demoted through SCIM: 409 with a detail saying why.
- DELETE removes the membership (its roles and group memberships go with it); the person stays.

Groups (the membership rules are models.services.groups'):
- `displayName` is unique per workspace, case-insensitively -> 409 uniqueness.
- `members` are group_member rows, never part of the stored document; only the rows that differ are written.
  Every referenced id must be a User of the same workspace, and not a Group, else 400 invalidValue.
- A PATCH locks the group row (PostgreSQL `SELECT ... FOR UPDATE`; SQLite write transactions are
  `BEGIN IMMEDIATE`), so concurrent PATCHes to one group serialise and lose nothing.
"""

from .common import Options
from .groups import create_group, delete_group, patch_group, replace_group
from .reads import (get_group, get_member, list_page, manager_names, members_of, render_groups,
                    render_users, role_names)
from .users import create_user, delete_user, patch_user, replace_user

__all__ = ["Options", "create_group", "create_user", "delete_group", "delete_user", "get_group", "get_member",
           "list_page", "manager_names", "members_of", "patch_group", "patch_user", "render_groups", "render_users",
           "replace_group", "replace_user", "role_names"]
