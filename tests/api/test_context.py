"""Who am I: GET {ws}/context, my workspaces with my membership's status, privileges by resource."""

from models.db import db
from models.directory import Member
from models.privileges import SYSTEM_ROLES
from tests.admin_helpers import assert_error


def test_context_of_a_member_in_a_group(world):
    r = world.c.operator.get(world.base + "/context")
    assert r.status_code == 200
    body = r.json
    assert body["workspace"]["slug"] == "acme"
    assert body["membership"] == {"id": world.operator.id, "type": "standard", "status": "active", "owner": False,
                                  "source": "admin"}
    assert body["roles"] == {"dev": "Operator", "test": "NoAccess", "prod": "NoAccess"}
    by_env = {e["environment"]: e for e in body["privileges"]}
    assert by_env["dev"]["privileges"] == ["members:read", "members:update"]
    assert by_env["dev"]["sources"][0]["type"] == "direct" and by_env["dev"]["sources"][0]["role"] == "Operator"
    # Engineering grants Readonly in prod.
    assert by_env["prod"]["privileges"] == sorted(SYSTEM_ROLES["Readonly"][1])
    [source] = by_env["prod"]["sources"]
    assert (source["type"], source["role"], source["group"]) == ("group", "Readonly", "Engineering")
    assert by_env["test"] == {"environment": "test", "privileges": [], "sources": [], "resources": []}
    members = {r["resource"]: r for r in by_env["dev"]["resources"]}
    assert list(members) == ["members"] and members["members"]["actions"] == ["read", "update"]
    assert [s["role"] for s in members["members"]["sources"]] == ["Operator"]


def test_context_of_the_owner_a_service_token_and_a_suspended_member(world):
    owner = world.c.owner.get(world.base + "/context").json
    assert owner["membership"]["owner"] is True and owner["membership"]["type"] == "owner"
    assert owner["roles"] == {"dev": "Admin", "test": "Admin", "prod": "Admin"}
    service = world.c.admin.get(world.base + "/context").json
    assert service["membership"] is None and service["roles"] == {}
    assert service["privileges"][0]["sources"] == [{"type": "token", "scopes": ["admin"]}]
    world.c.owner.patch(f"{world.base}/members/{world.member.id}", json={"status": "suspended"})
    suspended = world.c.member.get(world.base + "/context").json
    assert suspended["membership"]["status"] == "suspended"
    assert all(e["privileges"] == [] for e in suspended["privileges"])


def test_context_is_404_elsewhere_and_401_without_a_token(world):
    assert_error(world.c.other_owner.get(world.base + "/context"), 404)
    assert_error(world.c.anon.get(world.base + "/context"), 401)
    assert world.c.noaccess.get(world.base + "/context").status_code == 200


def test_my_workspaces_show_my_membership_status(world):
    with db.connection_context():
        Member.update(status="suspended").where(Member.id == world.member.id).execute()
    [item] = world.c.member.get("/api/v1/workspaces").json["items"]
    assert (item["slug"], item["membership_status"]) == ("acme", "suspended")
    [item] = world.c.owner.get("/api/v1/workspaces").json["items"]
    assert item["membership_status"] == "active"
