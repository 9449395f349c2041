"""Renewal reminders and review follow-ups, kept in the database.

- ``workdays``: Chinese working days (public holidays and 调休 make-up days), with fallbacks;
- ``timing``: local send times, quiet hours, no sends at :00 or :30, retry backoff;
- ``plan``: which reminders the merchant's milestones call for (pure);
- ``facts``: milestones from the conversation, and the reminder rows kept in step with them;
- ``texts``: what a reminder says, in the merchant's language;
- ``commands``: ``/reminders`` and the ``rem:`` choices, installed on the service;
- ``worker``: claims due reminders and sends them through the channel senders.

Modules are imported where needed; this package file stays light so that settings can use
``timing`` without pulling in the database.
"""
