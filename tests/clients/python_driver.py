"""Drives a running Ara through a Python client generated from openapi/openapi.json.

Run by tests/generated_client.rs with the generated package on PYTHONPATH:
    python3 python_driver.py BASE_URL API_KEY CHANNEL USER
It exits non-zero, with a message, on the first response that is not what the spec promises.
"""

import sys
import uuid

from ara_client import AuthenticatedClient
from ara_client.api.channels import get_channel, list_channels, user_subscriptions
from ara_client.api.notifications import send_batch, send_to_channel, send_to_user
from ara_client.api.templates import create_template, delete_template, get_template, list_templates, update_template
from ara_client.models import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ChannelInfo,
    ChannelList,
    BatchItemPayloadType0,
    CreateTemplate,
    ErrorResponse,
    Priority,
    SendResponse,
    SendToChannel,
    SendToUser,
    SendToUserPayloadType0,
    SendToUserVariablesType0,
    TargetSpecType0,
    TargetSpecType0Type,
    TargetSpecType3,
    TargetSpecType3Type,
    TemplateList,
    TemplateView,
    UpdateTemplate,
    UserSubscriptions,
)


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    base_url, api_key, channel, user = sys.argv[1:5]
    client = AuthenticatedClient(base_url=base_url, token=api_key, prefix="", auth_header_name="X-API-Key")

    sent = send_to_user.sync(
        client=client,
        body=SendToUser(
            target_user_id=user,
            event_type="client.hello",
            payload=SendToUserPayloadType0.from_dict({"n": 1}),
            priority=Priority.HIGH,
        ),
    )
    expect(isinstance(sent, SendResponse), "send returns a typed SendResponse")
    expect(sent.success and sent.delivered_to == 1, f"send reached the connected user ({sent.delivered_to})")
    uuid.UUID(str(sent.notification_id))

    bad = send_to_channel.sync(client=client, body=SendToChannel(channel="not a channel", event_type="x"))
    expect(isinstance(bad, ErrorResponse) and bad.error.code == "VALIDATION_ERROR", "invalid channel is a typed error")

    tid = f"greeting-{uuid.uuid4().hex[:8]}"
    created = create_template.sync(
        client=client,
        body=CreateTemplate(
            id=tid,
            name="Greeting",
            event_type="greeting",
            payload_template={"text": "Hello {{name}}", "count": "{{count}}"},
            priority=Priority.LOW,
            ttl=60,
        ),
    )
    expect(isinstance(created, TemplateView) and created.id == tid, "template created")
    expect(sorted(created.variables) == ["count", "name"], f"template variables listed ({created.variables})")
    dup = create_template.sync(client=client, body=CreateTemplate(id=tid, name="x", event_type="x"))
    expect(isinstance(dup, ErrorResponse) and dup.error.code == "TEMPLATE_EXISTS", "duplicate template is 409")
    listed = list_templates.sync(client=client)
    expect(isinstance(listed, TemplateList) and any(t.id == tid for t in listed.templates), "template listed")
    fetched = get_template.sync(id=tid, client=client)
    expect(isinstance(fetched, TemplateView) and fetched.name == "Greeting", "template fetched")
    updated = update_template.sync(
        id=tid,
        client=client,
        body=UpdateTemplate(name="Greeting v2", event_type="greeting", payload_template={"text": "Hi {{name}}"}),
    )
    expect(isinstance(updated, TemplateView) and updated.name == "Greeting v2", "template updated")

    templated = send_to_user.sync(
        client=client,
        body=SendToUser(
            target_user_id=user, template_id=tid, variables=SendToUserVariablesType0.from_dict({"name": "Ada"})
        ),
    )
    expect(isinstance(templated, SendResponse) and templated.delivered_to == 1, "templated send delivered")

    batch = send_batch.sync(
        client=client,
        body=BatchRequest(
            notifications=[
                BatchItem(
                    target=TargetSpecType0(id=user, type_=TargetSpecType0Type.USER),
                    event_type="batch.one",
                    payload=BatchItemPayloadType0.from_dict({"i": 0}),
                ),
                BatchItem(target=TargetSpecType3(name=channel, type_=TargetSpecType3Type.CHANNEL), event_type="batch.two"),
                BatchItem(target=TargetSpecType0(id=user, type_=TargetSpecType0Type.USER), event_type="batch.one"),
            ],
            deduplicate=True,
        ),
    )
    expect(isinstance(batch, BatchResponse), "batch returns a typed BatchResponse")
    expect(
        (batch.summary.total, batch.summary.successful, batch.summary.skipped) == (3, 2, 1),
        f"batch summary adds up ({batch.summary})",
    )
    expect([r.index for r in batch.results] == [0, 1, 2], "batch results by index")

    channels = list_channels.sync(client=client)
    expect(isinstance(channels, ChannelList), "channel list is typed")
    expect(any(c.name == channel and c.subscriber_count == 1 for c in channels.channels), "subscribed channel listed")
    one = get_channel.sync(name=channel, client=client)
    expect(isinstance(one, ChannelInfo) and one.subscriber_count == 1, "channel info")
    missing = get_channel.sync(name="nobody-here", client=client)
    expect(isinstance(missing, ErrorResponse) and missing.error.code == "CHANNEL_NOT_FOUND", "unknown channel is 404")
    subs = user_subscriptions.sync(user_id=user, client=client)
    expect(isinstance(subs, UserSubscriptions) and channel in subs.channels, "user subscriptions")

    gone = delete_template.sync_detailed(id=tid, client=client)
    expect(gone.status_code == 204, "template deleted")
    after = get_template.sync(id=tid, client=client)
    expect(isinstance(after, ErrorResponse) and after.error.code == "TEMPLATE_NOT_FOUND", "deleted template is 404")

    unauthorized = AuthenticatedClient(base_url=base_url, token="wrong", prefix="", auth_header_name="X-API-Key")
    refused = list_channels.sync(client=unauthorized)
    expect(isinstance(refused, ErrorResponse) and refused.error.code == "INVALID_API_KEY", "wrong key is 401")
    print("generated client: all checks passed")


if __name__ == "__main__":
    main()
