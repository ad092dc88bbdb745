"""Drives Ara's Tenant API through a Python client generated from openapi/openapi.json.

Run by tests/api/generated_tenant_client.rs with the generated package on PYTHONPATH:
    python3 python_tenants_driver.py BASE_URL ADMIN_KEY TENANT USER
A user USER of TENANT is connected (the Rust side holds the WebSocket). Exits non-zero, with a
message, on the first response that is not what the spec promises.
"""

import sys

from ara_client import AuthenticatedClient
from ara_client.api.notifications import send_to_user
from ara_client.api.tenants import (
    activate_tenant,
    create_key,
    create_tenant,
    delete_tenant,
    get_tenant,
    list_keys,
    list_tenants,
    revoke_key,
    rotate_key,
    suspend_tenant,
    update_tenant,
)
from ara_client.models import (
    CreateTenant,
    DeletedTenant,
    ErrorResponse,
    KeyList,
    KeyView,
    LimitsBody,
    NewKey,
    SendResponse,
    SendToUser,
    TenantList,
    TenantView,
    UpdateTenant,
)


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def keyed(base_url, key):
    return AuthenticatedClient(base_url=base_url, token=key, prefix="", auth_header_name="X-API-Key")


def main():
    base_url, admin_key, tenant, user = sys.argv[1:5]
    admin = keyed(base_url, admin_key)

    view = get_tenant.sync(tenant, client=admin)
    expect(isinstance(view, TenantView), "get_tenant returns a typed TenantView")
    expect(view.connections == 1 and view.users == 1, f"the connected user is counted ({view.connections})")
    expect(view.status == "active", "the tenant is active")

    other = create_tenant.sync(client=admin, body=CreateTenant(tenant_id="py-other", name="Other",
                                                               limits=LimitsBody(max_connections=3)))
    expect(isinstance(other, TenantView) and other.quotas.connections.limit == 3, "create_tenant with limits")
    dup = create_tenant.sync(client=admin, body=CreateTenant(tenant_id="py-other"))
    expect(isinstance(dup, ErrorResponse) and dup.error.code == "TENANT_CONFLICT", "a duplicate is a typed error")
    listed = list_tenants.sync(client=admin)
    expect(isinstance(listed, TenantList) and {t.tenant_id for t in listed.tenants} >= {tenant, "py-other", "default"},
           "list_tenants lists them")
    changed = update_tenant.sync("py-other", client=admin, body=UpdateTenant(limits=LimitsBody(sends_per_second=5)))
    expect(isinstance(changed, TenantView) and changed.limits.sends_per_second == 5, "update_tenant sets limits")

    made = create_key.sync(tenant, client=admin)
    expect(isinstance(made, NewKey) and made.key.startswith(made.prefix), "create_key shows the key once")
    keys = list_keys.sync(tenant, client=admin)
    expect(isinstance(keys, KeyList) and keys.total == 1 and made.key not in str(keys.to_dict()),
           "list_keys shows prefixes only")

    as_tenant = keyed(base_url, made.key)
    sent = send_to_user.sync(client=as_tenant, body=SendToUser(target_user_id=user, event_type="py.tenant"))
    expect(isinstance(sent, SendResponse) and sent.delivered_to == 1, "the tenant key sends in its tenant")
    crossed = send_to_user.sync(client=as_tenant, body=SendToUser(target_user_id=user, event_type="x"),
                                x_tenant_id="py-other")
    expect(isinstance(crossed, ErrorResponse) and crossed.error.code == "TENANT_MISMATCH",
           "the tenant key cannot name another tenant")
    refused = list_tenants.sync(client=as_tenant)
    expect(isinstance(refused, ErrorResponse) and refused.error.code == "ADMIN_KEY_REQUIRED",
           "the tenant key cannot manage tenants")

    rotated = rotate_key.sync(tenant, made.key_id, client=admin, grace_seconds=0)
    expect(isinstance(rotated, NewKey) and rotated.replaces is not None and not rotated.replaces.active,
           "rotate_key ends the old key")
    old = send_to_user.sync(client=as_tenant, body=SendToUser(target_user_id=user, event_type="x"))
    expect(isinstance(old, ErrorResponse) and old.error.code == "INVALID_API_KEY", "the rotated-out key is refused")

    suspended = suspend_tenant.sync("py-other", client=admin)
    expect(isinstance(suspended, TenantView) and suspended.status == "suspended", "suspend_tenant")
    active = activate_tenant.sync("py-other", client=admin)
    expect(isinstance(active, TenantView) and active.status == "active", "activate_tenant")

    revoked = revoke_key.sync(tenant, rotated.key_id, client=admin)
    expect(isinstance(revoked, KeyView) and not revoked.active, "revoke_key")

    gone = delete_tenant.sync("py-other", client=admin)
    expect(isinstance(gone, DeletedTenant) and gone.deleted, "delete_tenant")
    busy = delete_tenant.sync(tenant, client=admin)
    expect(isinstance(busy, ErrorResponse) and busy.error.code == "TENANT_HAS_CONNECTIONS",
           "delete_tenant with live connections needs force")
    forced = delete_tenant.sync(tenant, client=admin, force=True)
    expect(isinstance(forced, DeletedTenant) and forced.closed_connections == 1, "delete_tenant with force closes them")
    print("all checks passed")


if __name__ == "__main__":
    main()
