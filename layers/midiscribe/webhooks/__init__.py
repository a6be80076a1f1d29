"""Webhooks: what is sent (payload), how it is signed (signing), one attempt and what its answer means
(delivery), when the next one happens (schedule), and the notify-queue loop that ties them to the task
item (notifier). Outbound requests go through ``midiscribe.net``, which refuses private addresses.
"""
