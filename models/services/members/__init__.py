"""The member service: the one owner of workspace members, for the admin API, SCIM and the command line.

`reads` answers questions (listing, direct roles, groups, privileges); `writes` changes members: creation,
direct roles with the owner rule, suspension, removal, leaving and ownership.
"""

from .reads import (context_of, direct_roles, env_role_map, find_owner, get_member, list_members, member_by_person,
                    member_query, privileges_report, roles_and_groups_of)
from .writes import (OWNER_DEMOTED, OWNER_REMOVED, OWNER_SUSPENDED, add_member, apply_roles, delete_member,
                     insert_member, leave, remove_member, set_roles, set_suspended, transfer_ownership,
                     update_member)

__all__ = ["context_of", "OWNER_DEMOTED", "OWNER_REMOVED", "OWNER_SUSPENDED", "add_member", "apply_roles", "delete_member",
           "direct_roles", "env_role_map", "find_owner", "get_member", "insert_member", "leave", "list_members",
           "member_by_person", "member_query", "privileges_report", "remove_member", "roles_and_groups_of",
           "set_roles", "set_suspended", "transfer_ownership", "update_member"]
