"""The minimal floor: a measuring reference for the benchmarks, NOT product code.

Nothing of Backchannel imports it and nothing of it imports Backchannel. It does the same job as
Backchannel's DM path on the same stack, as little as that job allows, so that ``bench/floor_compare.py``
can say how far the product is from what the machine can do (issue 20):

- ``app.py``: a raw ASGI application under uvicorn (no Django request cycle). ``POST /twitter/webhook/``
  checks X's signature (the same HMAC-SHA256 ``x-twitter-webhooks-signature`` the product checks), reads
  the JSON and stores the bodies arriving together with one INSERT and one commit (group commit), which
  also NOTIFYs the worker; ``/ws/inbox/<x user id>/`` is a websocket that joins the inbox's channels-redis
  group and forwards the frames it is sent, already serialised.
- ``worker.py``: a process woken by PostgreSQL ``LISTEN/NOTIFY`` that takes up to 100 stored deliveries per
  transaction, inserts their DMs with ``INSERT ... ON CONFLICT DO NOTHING`` into a minimal messages table
  and, after the commit, sends one ``group_send`` per inbox holding every new message's frame, each
  serialised once.
- ``schema.py``: its two tables, plain SQL, in a database of its own.
- ``stack.py``: starts both processes for a benchmark.

What it leaves out on purpose is everything the product is for beyond the hot path: conversations,
customers' profiles, assignment, summaries, permissions, presence, sessions.
"""
