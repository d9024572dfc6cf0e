"""Eight concurrent writers, SCIM and the admin API together, against gunicorn -w 2 over real HTTP: no 5xx
(`database is locked` included), no lost or duplicated group membership, and the provisioning log's chain
stays gap-free and verifies."""

import threading

import requests

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_WRITERS = 4
ADMIN_WRITERS = 4
USERS_PER_WRITER = 6
GROUPS = 2


def _session(token, content_type="application/json"):
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": content_type})
    return session


def test_eight_concurrent_writers_over_http(live_roster):
    scim = _session(live_roster.scim_token, "application/scim+json")
    base = f"{live_roster.url}/scim/v2"
    api = f"{live_roster.url}/api/v1/workspaces/{live_roster.slug}"
    run = f"cw{threading.get_ident() % 10000}"
    users = {}
    for writer in range(SCIM_WRITERS + ADMIN_WRITERS):
        for n in range(USERS_PER_WRITER if writer < SCIM_WRITERS else 1):
            r = scim.post(f"{base}/Users", json={"schemas": [USER], "userName": f"{run}-{writer}-{n}"}, timeout=30)
            assert r.status_code == 201, r.text
            users.setdefault(writer, []).append(r.json()["id"])
    groups = []
    for n in range(GROUPS):
        r = scim.post(f"{base}/Groups", json={"schemas": [GROUP], "displayName": f"{run} group {n}"}, timeout=30)
        assert r.status_code == 201, r.text
        groups.append(r.json()["id"])

    answers, expected = [], {group: set() for group in groups}
    lock, barrier = threading.Lock(), threading.Barrier(SCIM_WRITERS + ADMIN_WRITERS)

    def note(response):
        with lock:
            answers.append((response.request.method, response.request.path_url, response.status_code,
                            response.text[:300]))

    def scim_writer(k):
        session = _session(live_roster.scim_token, "application/scim+json")
        barrier.wait()
        mine = users[k]
        for n, member_id in enumerate(mine):  # every writer adds to the same groups
            group = groups[n % GROUPS]
            note(session.patch(f"{base}/Groups/{group}", timeout=60, json={"schemas": [PATCH], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": member_id}]}]}))
        for n, member_id in enumerate(mine):
            group = groups[n % GROUPS]
            if n % 3 == 0:  # and takes some out again
                note(session.patch(f"{base}/Groups/{group}", timeout=60, json={"schemas": [PATCH], "Operations": [
                    {"op": "remove", "path": f'members[value eq "{member_id}"]'}]}))
            else:
                with lock:
                    expected[group].add(member_id)
            note(session.patch(f"{base}/Users/{member_id}", timeout=60, json={"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "displayName", "value": f"writer {k} #{n}"}]}))

    def admin_writer(k):
        session = _session(live_roster.owner_token)
        barrier.wait()
        for n in range(USERS_PER_WRITER):
            note(session.post(f"{api}/roles", json={"name": f"{run} role {k}-{n}", "privileges": ["members:read"]},
                              timeout=60))
            role = "Member" if n % 2 else "Readonly"
            note(session.put(f"{api}/members/{users[k][0]}/roles", timeout=60,
                             json={"env_roles": [{"environment_type": "dev", "name": role}]}))
            note(session.put(f"{api}/groups/{groups[n % GROUPS]}/grants", timeout=60,
                             json={"env_roles": [{"environment_type": "prod", "name": role}]}))

    threads = [threading.Thread(target=scim_writer, args=(k,)) for k in range(SCIM_WRITERS)]
    threads += [threading.Thread(target=admin_writer, args=(k,)) for k in range(SCIM_WRITERS,
                                                                                  SCIM_WRITERS + ADMIN_WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    statuses = sorted({a[2] for a in answers})
    print(f"concurrent writers: {len(answers)} writes, statuses {statuses}")
    removals = len(range(0, USERS_PER_WRITER, 3))
    assert len(answers) == SCIM_WRITERS * (2 * USERS_PER_WRITER + removals) + ADMIN_WRITERS * 3 * USERS_PER_WRITER
    failed = [a for a in answers if a[2] >= 300]
    assert not failed, failed[:5]
    for group in groups:
        members = [m["value"] for m in scim.get(f"{base}/Groups/{group}", timeout=30).json().get("members", [])]
        assert len(members) == len(set(members)), "duplicated membership"
        assert set(members) == expected[group], "lost or extra membership"
    owner = _session(live_roster.owner_token)
    seqs, cursor = [], None
    while True:
        page = owner.get(f"{api}/events", params={"order": "asc", "limit": 500, **({"cursor": cursor} if cursor
                                                                                   else {})}, timeout=30).json()
        seqs += [event["seq"] for event in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] == 1, "a gap in the event chain"
    verdict = owner.get(f"{api}/events/verify", timeout=60).json()
    assert verdict["ok"] is True, verdict
