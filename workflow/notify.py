"""Old name of `workflow.notices`, kept while the scheduler's imports move over; import from
`workflow.notices` instead (this module goes once nothing imports it)."""

from workflow.notices import DEFAULT_CHANNEL, notice_row, notice_rows, recipient

__all__ = ["DEFAULT_CHANNEL", "notice_row", "notice_rows", "recipient"]
