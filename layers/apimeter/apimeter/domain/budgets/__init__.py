"""Budgets: caps on a project's (or, with no project, a whole tenant's) cost or request count per
day, ISO week (Monday first) or calendar month in an IANA time zone, and the alerts and holds they
lead to.

``rules`` says what a valid budget is, ``periods`` where its periods begin and end, ``alerts``
when a threshold is reached and how that is told (once per threshold and period), ``holds`` what
throttle and suspend do to API keys.
"""
