"""Webhooks: what is sent (payload), how it is signed (signing), one attempt and what its answer means
(delivery), when the next one happens (schedule), the notify-queue loop that ties them to the task item
(notifier), and the guard every outbound request to a user-supplied URL goes through (urlguard).
"""
