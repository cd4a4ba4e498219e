"""Notifications: a transactional outbox filled by workflow events, a delivery worker, the
reminder and timer scheduler, and the message templates in email_templates/."""
