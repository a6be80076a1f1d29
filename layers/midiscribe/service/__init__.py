"""The use cases: what the API asks for (``submissions``, ``lookups``, ``uploads``, ``result_links``,
``redelivery``) and what the worker does with each task (``worker``).

They work over the domain's ports (``midiscribe.domain.ports``); the functions' handlers give them
the AWS adapters, tests give them in-memory fakes. ``config`` reads the settings every function shares.
"""
