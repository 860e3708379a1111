"""Notices to cadres, families and officers: Jinja2 templates, the outbox dispatcher and its
delivery channels (file, SMTP, webhook).

A host needs one import line, e.g. ``from notifications import dispatch, build_channels``.
The engine writes outbox rows with `render` inside a step's transaction; `dispatch` delivers
them later (``convalescence notifications dispatch``) through an outbox port such as
``workflow.store.outbox.SqlOutbox(engine.db)``.

This package depends on the core's ports (`workflow.ports`) and errors only, never on
`workflow.store` or the engine, and the core imports none of it at module level: the two can be
imported in either order.
"""

from notifications.channels import (
    Channel,
    ChannelSettings,
    FileChannel,
    SmtpChannel,
    WebhookChannel,
    build_channels,
)
from notifications.dispatch import DispatchReport, Failure, dispatch
from notifications.errors import ChannelConfigError, DeliveryError, TemplateError
from notifications.masking import mask_address, mask_id_card, mask_phone, mask_text
from notifications.outbox import OutboxEntry, OutboxMessage, list_entries, retry_dead
from notifications.render import Rendered, check_templates, render, sample_context
from notifications.shipped import ShippedTemplates, template_names

__all__ = [
    "Channel",
    "ChannelConfigError",
    "ChannelSettings",
    "DeliveryError",
    "DispatchReport",
    "Failure",
    "FileChannel",
    "OutboxEntry",
    "OutboxMessage",
    "Rendered",
    "ShippedTemplates",
    "SmtpChannel",
    "TemplateError",
    "WebhookChannel",
    "build_channels",
    "check_templates",
    "dispatch",
    "list_entries",
    "mask_address",
    "mask_id_card",
    "mask_phone",
    "mask_text",
    "render",
    "retry_dead",
    "sample_context",
    "template_names",
]
