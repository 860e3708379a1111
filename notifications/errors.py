"""The notification errors, rooted in the engine's `WorkflowError` so the CLI's one error
boundary turns them into a message and an exit code like any other.

Each keeps the facts behind it as attributes (template, file, line; channel, retryable) for the
host program, and builds one message for the officer. Messages that may quote an address or a
server's reply are masked before they are stored, so a phone or ID number never reaches a log.
"""

from __future__ import annotations

from notifications.masking import mask_text
from workflow.errors import InputError, WorkflowError
from workflow.i18n import _


class TemplateError(InputError):
    """A notice template is missing, does not compile, or fails on the context it was given.

    It is an `InputError` (exit code 2): the template is part of what a definition asks for, and
    a broken one must be fixed by whoever wrote it, not retried.
    """

    def __init__(
        self, template: str, problem: str, *, file: str | None = None, line: int | None = None
    ) -> None:
        self.template = template
        self.problem = problem
        self.file = file
        self.line = line
        super().__init__(
            _("通知模板 '{template}'（{where}）：{problem}").format(
                template=template, where=self._where(), problem=problem
            ),
            field="template",
        )

    def _where(self) -> str:
        where = self.file or self.template
        return f"{where}:{self.line}" if self.line else where

    @property
    def location(self) -> str:
        """``FILE:LINE: problem``, the shape editors and `definitions validate` print."""
        return f"{self._where()}: {self.problem}"


class ChannelConfigError(InputError):
    """A delivery channel is configured wrongly (e.g. ``CONVALESCENCE_SMTP`` is not host:port)."""


class DeliveryError(WorkflowError):
    """A channel could not hand a notice over.

    ``retryable`` tells the dispatcher whether trying again later can help (a server that is
    down, a 503) or not (a refused address, a 400): the first is retried with back-off, the
    second goes straight to the dead letters where an officer can look at it.
    """

    def __init__(self, channel: str, message: str, *, retryable: bool) -> None:
        self.channel = channel
        self.retryable = retryable
        super().__init__(mask_text(f"{channel}: {message}"))
