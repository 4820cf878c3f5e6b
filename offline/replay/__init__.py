"""Real third-party traffic replayed into the offline stack's demo project (``make demo``).

``sources`` reads the data into calls and ``timeline`` places them in time and screens them for
anomalies (both pure); ``sending``, ``stack_api`` and ``flow`` send them through the Python client
and drive the running stack; ``progress`` is the progress bar.
"""
