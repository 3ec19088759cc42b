"""API keys: hashing at rest, authentication, revocation (both backends)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from incidents.auth import Role, authorize_write, can_write, require_admin
from incidents.errors import Forbidden, InvalidIncident, NotFound
from incidents.keys import authenticate, create_key, key_id_of, list_keys, revoke_key
from incidents.store import IncidentStore
from tests.incidents.incident_payloads import incident_data


def dump_table(store: IncidentStore, table: str) -> str:
    with store.db.transaction() as tx:
        return repr(tx.execute(f"SELECT * FROM {table}"))


def test_create_and_authenticate(store: IncidentStore) -> None:
    key = create_key(store, "traffic_centre", "HSL", label="HSL traffic centre")
    assert key.startswith("cnk_") and len(key) == 4 + 12 + 1 + 43
    principal = authenticate(store, key)
    assert principal is not None
    assert (principal.role, principal.agency, principal.key_id) == (
        Role.TRAFFIC_CENTRE,
        "HSL",
        key_id_of(key),
    )
    assert principal.label == "HSL traffic centre"
    admin = authenticate(store, create_key(store, Role.ADMIN))
    assert admin is not None and admin.role == Role.ADMIN and admin.agency is None


def test_plaintext_never_stored(store: IncidentStore) -> None:
    key = create_key(store, "reader")
    secret = key.split("_", 2)[2]
    contents = dump_table(store, "api_keys")
    assert key not in contents and secret not in contents and secret[:16] not in contents
    assert hashlib.sha256(key.encode()).hexdigest() in contents
    assert key_id_of(key) in contents  # the non-secret lookup id is stored in clear
    info = list_keys(store)[0]
    assert not any(secret in repr(v) for v in vars(info).values())
    assert not hasattr(info, "secret_sha256")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: k.replace("cnk_", "xyz_"),
        lambda k: k + "x",
        lambda k: "",
        lambda k: "cnk_000000000000_" + "A" * 43,  # unknown id
        lambda k: k.upper(),
        lambda k: k + "\x00",
        lambda k: "cnk_' OR '1'='1_" + "A" * 43,
        lambda k: 12345,
        lambda k: None,
        lambda k: "x" * 10_000,
    ],
)
def test_bad_keys_rejected(store: IncidentStore, mangle: Any) -> None:
    key = create_key(store, "admin")
    assert authenticate(store, mangle(key)) is None
    assert authenticate(store, key) is not None


def test_revoke_and_list(store: IncidentStore) -> None:
    k1 = create_key(store, "reader")
    k2 = create_key(store, "traffic_centre", "ESPOO")
    id1 = key_id_of(k1)
    assert id1 is not None
    info = revoke_key(store, id1)
    assert not info.active and info.revoked_at is not None
    assert authenticate(store, k1) is None and authenticate(store, k2) is not None
    assert revoke_key(store, id1).revoked_at == info.revoked_at  # idempotent
    assert {i.key_id: i.active for i in list_keys(store)} == {id1: False, key_id_of(k2): True}
    assert [i.key_id for i in list_keys(store, include_revoked=False)] == [key_id_of(k2)]
    with pytest.raises(NotFound):
        revoke_key(store, "nope")


def test_key_creation_validated(store: IncidentStore) -> None:
    with pytest.raises(InvalidIncident, match="agency"):
        create_key(store, "traffic_centre")
    with pytest.raises(InvalidIncident, match="role"):
        create_key(store, "superuser")
    with pytest.raises(InvalidIncident):
        create_key(store, "reader", agency="bad agency")
    with pytest.raises(InvalidIncident):
        create_key(store, "reader", label="evil\x1b[31m")
    assert list_keys(store) == []


def test_keys_drive_store_permissions(store: IncidentStore) -> None:
    hsl = authenticate(store, create_key(store, "traffic_centre", "HSL"))
    espoo = authenticate(store, create_key(store, "traffic_centre", "ESPOO"))
    reader = authenticate(store, create_key(store, "reader"))
    admin = authenticate(store, create_key(store, "admin"))
    assert hsl and espoo and reader and admin
    inc = store.create(incident_data(), hsl)
    with pytest.raises(Forbidden):
        store.patch(inc.id, {"severity": "low"}, espoo, 1)
    with pytest.raises(Forbidden):
        store.patch(inc.id, {"severity": "low"}, reader, 1)
    assert store.patch(inc.id, {"severity": "low"}, admin, 1).updated_by == admin.actor
    assert can_write(admin, "ANY") and can_write(hsl, "HSL") and not can_write(hsl, "ESPOO")
    authorize_write(hsl, "HSL")
    with pytest.raises(Forbidden):
        require_admin(hsl)
    require_admin(admin)
