"""Every save and delete of a tenant row also filters on its workspace (models.db.BaseModel._pk_expr)."""

from models.db import db
from models.directory import Member
from tests import factories


def test_save_and_delete_name_the_workspace(app):
    with app.app_context(), db.connection_context():
        acme, _ = factories.make_workspace("Acme", owner_email="owner@acme.test")
        other, _ = factories.make_workspace("Globex", owner_email="owner@globex.test")
        member, _ = factories.make_member(acme, "jane@acme.test")
        sql, params = Member.update(display_name="x").where(member._pk_expr()).sql()
        assert '"workspace_id" = ' in sql and acme.id in params

        stray = Member.get_by_id(member.id)
        stray.__data__["workspace"] = other.id  # an object that claims the wrong tenant writes nothing
        stray.display_name = "Hijacked"
        stray.save()
        assert stray.delete_instance() == 0
        kept = Member.get_by_id(member.id)
        assert kept.display_name != "Hijacked" and kept.workspace_id == acme.id
