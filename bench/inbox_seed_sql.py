"""The SQL that seeds the inbox benchmark's desk (``bench/inbox_seed.py``): set-based, one statement per table."""

SEED_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.u(n bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT (hashint8(n * 64 + salt)::bigint & 2147483647)::float8 / 2147483648.0 $$
"""

# One row per conversation to seed: everything that is decided before its messages exist.
SEED_PLAN = """
CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
WITH base AS (
    SELECT n, mod(n, 3) AS inbox_no,
           CASE WHEN n >= %(live_below)s THEN 'resolved'
                WHEN pg_temp.u(n, 1) < %(open_below)s THEN 'open'
                WHEN pg_temp.u(n, 1) < %(pending_below)s THEN 'pending'
                WHEN pg_temp.u(n, 1) < %(snoozed_below)s THEN 'snoozed'
                ELSE 'resolved' END AS status,
           CASE WHEN n = %(long_n)s THEN %(long_messages)s
                ELSE 2 + round(28 * power(pg_temp.u(n, 2), 2.3))::int END AS raw_messages
    FROM generate_series(%(lo)s, %(hi)s - 1) AS n
), shaped AS (
    SELECT *,
           -- Open and snoozed threads end with the customer (an odd count: inbound first), pending ones with
           -- us, and four in five resolved ones too.
           CASE WHEN status IN ('open', 'snoozed') THEN raw_messages - 1 + mod(raw_messages, 2)
                WHEN status = 'pending' OR pg_temp.u(n, 16) < 0.8 THEN raw_messages - mod(raw_messages, 2)
                ELSE raw_messages - 1 + mod(raw_messages, 2) END AS messages,
           (%(now_epoch)s - CASE WHEN status = 'resolved' THEN 3600 + floor(pg_temp.u(n, 3) * 365 * 86400)
                                 ELSE 60 + floor(pg_temp.u(n, 3) * 3 * 86400) END)::bigint AS last_epoch,
           CASE WHEN n = %(long_n)s THEN 6 * 3600 ELSE 60 + floor(pg_temp.u(n, 4) * 1800)::int END AS gap,
           CASE WHEN inbox_no = 1 THEN %(billing_agents)s::bigint[] ELSE %(support_agents)s::bigint[] END AS agents
    FROM base
)
SELECT n, status, messages, last_epoch, gap,
       last_epoch - (messages - 1)::bigint * gap AS first_epoch,
       (%(inbox_ids)s::bigint[])[inbox_no + 1] AS inbox_id,
       (4000000000 + n)::text AS contact_x_id,
       (4000000000 + n)::text || '-' || (%(inbox_x_ids)s::text[])[inbox_no + 1] AS x_conversation_id,
       CASE WHEN inbox_no = 1 THEN %(billing_team)s ELSE %(support_team)s END::bigint AS team_id,
       CASE WHEN pg_temp.u(n, 5) < CASE WHEN status = 'resolved' THEN 0.85 ELSE 0.7 END
            THEN agents[1 + floor(pg_temp.u(n, 6) * cardinality(agents))::int] END AS assignee_id,
       agents[1 + floor(pg_temp.u(n, 7) * cardinality(agents))::int] AS responder_id,
       CASE WHEN pg_temp.u(n, 8) < 0.70 THEN 0 WHEN pg_temp.u(n, 8) < 0.80 THEN 1 WHEN pg_temp.u(n, 8) < 0.92 THEN 2
            WHEN pg_temp.u(n, 8) < 0.98 THEN 3 ELSE 4 END AS priority,
       CASE WHEN status = 'snoozed' AND pg_temp.u(n, 9) < 0.5
            THEN to_timestamp(%(now_epoch)s + 3600 + floor(pg_temp.u(n, 10) * 6 * 86400)) END AS snoozed_until,
       'BC-' || lpad(n::text, 6, '0') AS order_no
FROM shaped
"""

SEED_CONTACTS = """
INSERT INTO inbox_contact (x_user_id, handle, name, avatar_url, description, location, followers_count,
                           verified, protected, profile_refreshed_at, created_at)
SELECT p.contact_x_id,
       left(regexp_replace(translate(lower(f.name), 'áéíóúüöëïç', 'aeiouuoeic'), '[^a-z0-9_]', '', 'g'), 8)
           || p.n::text,
       f.name || ' ' || (%(last_names)s::text[])[1 + mod(p.n / 40, cardinality(%(last_names)s::text[]))],
       'https://pbs.twimg.com/profile_images/' || (1700000000000000000 + p.n)::text || '/avatar_normal.jpg',
       (%(bios)s::text[])[1 + mod(p.n * 7, cardinality(%(bios)s::text[]))],
       (%(locations)s::text[])[1 + mod(p.n * 13, cardinality(%(locations)s::text[]))],
       floor(power(pg_temp.u(p.n, 30), 3) * 50000)::int,
       pg_temp.u(p.n, 31) < 0.02, pg_temp.u(p.n, 32) < 0.05,
       to_timestamp(p.last_epoch), to_timestamp(p.first_epoch)
FROM seed_plan p
CROSS JOIN LATERAL (
    SELECT (%(first_names)s::text[])[1 + mod(p.n, cardinality(%(first_names)s::text[]))] AS name
) AS f
"""

# Placeholders for what the messages decide; SEED_DERIVED fills them in.
SEED_CONVERSATIONS = """
INSERT INTO inbox_conversation (inbox_id, x_conversation_id, kind, contact_id, status, status_changed_at,
                                snoozed_until, priority, assignee_id, team_id, last_message_at,
                                last_message_preview, last_inbound_at, first_response_at, resolved_at,
                                needs_reply, customer_read_event_id, customer_read_at, origin_post_id, origin_summary,
                                created_at, updated_at)
SELECT p.inbox_id, p.x_conversation_id, 'one_to_one', ct.id, p.status, to_timestamp(p.last_epoch),
       p.snoozed_until, p.priority, p.assignee_id, p.team_id, to_timestamp(p.last_epoch),
       '', NULL, NULL, NULL, false, '', NULL, '', '', to_timestamp(p.first_epoch), to_timestamp(p.last_epoch)
FROM seed_plan p JOIN inbox_contact ct ON ct.x_user_id = p.contact_x_id
ORDER BY p.n
"""

SEED_CONVERSATION_IDS = """
CREATE TEMP TABLE seed_conv ON COMMIT DROP AS
SELECT c.id AS conversation_id, c.contact_id, p.*,
       %(message_base)s + sum(p.messages) OVER (ORDER BY p.n) - p.messages AS first_gidx
FROM seed_plan p JOIN inbox_conversation c ON c.inbox_id = p.inbox_id AND c.x_conversation_id = p.x_conversation_id
"""

# Messages alternate inbound / outbound, inbound first, ``gap`` seconds apart with jitter, the last one at
# ``last_epoch``. X ids are snowflakes of the message's time, with a running number in the low bits.
SEED_MESSAGES = """
INSERT INTO inbox_message (conversation_id, x_event_id, x_sequence, event_type, direction, sender_contact_id,
                           sender_agent_id, text, entities, referenced_post_ids, participant_x_ids,
                           quick_reply_response, source_app_name, initiated_via_post_id, welcome_message_id,
                           x_confirmed_at, x_created_at, occurred_at, delivery_state, error_detail,
                           idempotency_key, created_at, updated_at)
SELECT c.conversation_id, s.seq::text, s.seq, 'MessageCreate', t.direction,
       CASE WHEN t.inbound THEN c.contact_id END,
       CASE WHEN NOT t.inbound THEN coalesce(c.assignee_id, c.responder_id) END,
       CASE WHEN k = 0 THEN format((%(openers)s::text[])[1 + mod(c.n * 7 + 3, cardinality(%(openers)s::text[]))],
                                   c.order_no)
            WHEN t.inbound THEN (%(follow_ups)s::text[])[1 + floor(pg_temp.u(t.gidx, 12)
                                                                 * cardinality(%(follow_ups)s::text[]))::int]
            WHEN k = c.messages - 1 AND c.status = 'resolved'
                 THEN (%(closers)s::text[])[1 + mod(c.n, cardinality(%(closers)s::text[]))]
            ELSE format((%(replies)s::text[])[1 + floor(pg_temp.u(t.gidx, 13)
                                                        * cardinality(%(replies)s::text[]))::int], c.order_no)
       END || CASE WHEN pg_temp.u(t.gidx, 14) < 0.25
                   THEN ' ' || (%(extras)s::text[])[1 + mod(t.gidx, cardinality(%(extras)s::text[]))]
                   ELSE '' END,
       '{}'::jsonb, '[]'::jsonb, '[]'::jsonb, NULL,
       CASE WHEN t.inbound THEN '' ELSE 'Backchannel' END,
       CASE WHEN k = 0 AND pg_temp.u(c.n, 15) < 0.1 THEN (1790000000000000000 + c.n)::text ELSE '' END, '',
       CASE WHEN NOT t.inbound THEN s.at + interval '1 second' END,
       s.at, s.at, CASE WHEN t.inbound THEN '' ELSE 'sent' END, '', NULL, s.at, s.at
FROM seed_conv c
CROSS JOIN LATERAL generate_series(0, c.messages - 1) AS k
CROSS JOIN LATERAL (
    SELECT mod(k, 2) = 0 AS inbound, CASE WHEN mod(k, 2) = 0 THEN 'inbound' ELSE 'outbound' END AS direction,
           c.first_gidx + k AS gidx,
           c.last_epoch - (c.messages - 1 - k)::bigint * c.gap
               + CASE WHEN k < c.messages - 1 THEN floor(pg_temp.u(c.first_gidx + k, 11) * c.gap / 2)::bigint
                      ELSE 0 END AS epoch
) AS t
CROSS JOIN LATERAL (
    SELECT t.epoch * 1000 + mod(t.gidx * 7919, 1000) AS ms
) AS m
CROSS JOIN LATERAL (
    SELECT ((m.ms - %(x_epoch_ms)s) << %(sequence_bits)s) | t.gidx AS seq,
           to_timestamp(0) + m.ms * interval '1 millisecond' AS at
) AS s
"""

SEED_AGGREGATES = """
CREATE TEMP TABLE seed_agg ON COMMIT DROP AS
SELECT m.conversation_id,
       max(m.occurred_at) AS last_at,
       min(m.occurred_at) AS first_at,
       max(m.occurred_at) FILTER (WHERE m.direction = 'inbound') AS last_inbound_at,
       min(m.occurred_at) FILTER (WHERE m.direction = 'outbound') AS first_outbound_at,
       (array_agg(m.text ORDER BY m.occurred_at DESC, m.x_sequence DESC))[1] AS last_text,
       (array_agg(m.direction ORDER BY m.occurred_at DESC, m.x_sequence DESC))[1] AS last_direction,
       (array_agg(m.x_event_id ORDER BY m.occurred_at DESC, m.x_sequence DESC))[1] AS last_event_id,
       (array_agg(m.x_event_id ORDER BY m.occurred_at, m.x_sequence))[1] AS first_event_id
FROM inbox_message m JOIN seed_conv c ON c.conversation_id = m.conversation_id
GROUP BY m.conversation_id
"""

# The conversation's denormalised fields, as ingest keeps them, from its messages.
SEED_DERIVED = """
UPDATE inbox_conversation c SET
    last_message_at = a.last_at,
    last_message_preview = left(a.last_text, 200),
    last_inbound_at = a.last_inbound_at,
    first_response_at = a.first_outbound_at,
    needs_reply = a.last_direction = 'inbound',
    resolved_at = CASE WHEN c.status = 'resolved' THEN a.last_at + interval '10 minutes' END,
    status_changed_at = a.last_at + CASE WHEN c.status = 'resolved' THEN interval '10 minutes' ELSE interval '0' END,
    customer_read_event_id = CASE WHEN a.last_direction = 'outbound' AND mod(c.id, 2) = 0
                                  THEN a.last_event_id ELSE '' END,
    customer_read_at = CASE WHEN a.last_direction = 'outbound' AND mod(c.id, 2) = 0
                            THEN a.last_at + interval '2 minutes' END,
    created_at = a.first_at,
    updated_at = a.last_at + CASE WHEN c.status = 'resolved' THEN interval '10 minutes' ELSE interval '0' END
FROM seed_agg a WHERE a.conversation_id = c.id
"""

SEED_PARTICIPANTS = """
INSERT INTO inbox_participant (conversation_id, contact_id, joined_at, left_at, is_active)
SELECT conversation_id, contact_id, NULL, NULL, true FROM seed_conv
"""

# The activity log ``inbox.events`` writes: created, assigned, status changes (parameters as it builds them).
SEED_EVENTS = """
INSERT INTO inbox_conversationevent (conversation_id, kind, actor_id, parameters, created_at)
SELECT a.conversation_id, 'created', NULL::bigint, jsonb_build_object('x_event_id', a.first_event_id), a.first_at
FROM seed_agg a
UNION ALL
SELECT c.conversation_id, 'assigned', NULL::bigint,
       jsonb_build_object('old_assignee_id', NULL, 'old_assignee_name', NULL,
                          'new_assignee_id', c.assignee_id, 'new_assignee_name', u.name),
       a.first_at + interval '2 minutes'
FROM seed_conv c JOIN seed_agg a USING (conversation_id) JOIN accounts_user u ON u.id = c.assignee_id
UNION ALL
SELECT c.id, 'status_changed', c.assignee_id,
       jsonb_build_object('old', 'open', 'new', c.status, 'snoozed_until', to_jsonb(c.snoozed_until)),
       c.status_changed_at
FROM inbox_conversation c JOIN seed_conv s ON s.conversation_id = c.id
WHERE c.status <> 'open'
"""

SEED_NOTES = """
WITH picked AS (
    SELECT c.conversation_id, coalesce(c.assignee_id, c.responder_id) AS author_id, c.n,
           a.first_at + (a.last_at - a.first_at) / 2 AS at
    FROM seed_conv c JOIN seed_agg a USING (conversation_id)
    WHERE pg_temp.u(c.n, 20) < 0.05
), notes AS (
    INSERT INTO inbox_note (conversation_id, author_id, body, created_at)
    SELECT conversation_id, author_id, (%(notes)s::text[])[1 + mod(n, cardinality(%(notes)s::text[]))], at
    FROM picked
    RETURNING id, conversation_id, author_id, created_at
)
INSERT INTO inbox_conversationevent (conversation_id, kind, actor_id, parameters, created_at)
SELECT conversation_id, 'note_added', author_id, jsonb_build_object('note_id', id), created_at FROM notes
"""

# How far agents have read: assignees their own conversations (half of the live ones that wait for a reply
# are unread), and the bench agent a fifth of the others.
SEED_READS = """
INSERT INTO inbox_conversationread (conversation_id, user_id, read_at)
SELECT c.conversation_id, c.assignee_id,
       CASE WHEN a.last_direction = 'inbound' AND c.status <> 'resolved' AND pg_temp.u(c.n, 21) < 0.5
            THEN a.last_at - interval '1 minute' ELSE a.last_at END
FROM seed_conv c JOIN seed_agg a USING (conversation_id)
WHERE c.assignee_id IS NOT NULL
UNION ALL
SELECT c.conversation_id, %(bench_agent)s, a.last_at
FROM seed_conv c JOIN seed_agg a USING (conversation_id)
WHERE c.assignee_id IS DISTINCT FROM %(bench_agent)s AND pg_temp.u(c.n, 22) < 0.2
ON CONFLICT DO NOTHING
"""

REBUILT_TABLES = ["inbox_contact", "inbox_conversation", "inbox_message", "inbox_conversationevent", "inbox_note"]
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""
