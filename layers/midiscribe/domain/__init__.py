"""The domain: the task model and its state machine, what clients ask for, and the errors of both.

Nothing here knows about HTTP, AWS or the engine: the service layer works in these terms, the AWS
adapters store them, and the API turns them into wire shapes and statuses.
"""
