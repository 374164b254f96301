"""The data set of bench/inbox_page.py: a support desk after a year of work, seeded with set-based SQL.

See bench/inbox_page.py for its shape and why. ``prepare`` makes the inboxes, teams and agents through the
services; ``seed`` adds conversations ``lo`` to ``hi - 1`` with their contacts, messages, activity log, notes
and read markers in one transaction; ``pick_threads`` chooses the two threads the benchmark opens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.inbox_seed_sql import (
    REBUILT_TABLES,
    SECONDARY_INDEXES,
    SEED_AGGREGATES,
    SEED_CONTACTS,
    SEED_CONVERSATION_IDS,
    SEED_CONVERSATIONS,
    SEED_DERIVED,
    SEED_EVENTS,
    SEED_FUNCTION,
    SEED_MESSAGES,
    SEED_NOTES,
    SEED_PARTICIPANTS,
    SEED_PLAN,
    SEED_READS,
)

LIVE_SHARES = (("open", 0.06), ("pending", 0.02), ("snoozed", 0.01))  # of the first --small conversations
LONG_THREAD_N = 7  # the conversation with the long thread, the same one at both sizes
LONG_THREAD_MESSAGES = 500
TYPICAL_THREAD_MESSAGES = 30
REBUILD_INDEXES_ABOVE = 20_000  # conversations per batch: above this, drop secondary indexes and build them after
X_EPOCH_MS = 1288834974657  # X's snowflake epoch
SEQUENCE_BITS = 22

INBOXES = (  # x_user_id, handle, display name, team
    ("1500000000000000001", "AcmeSupport", "Acme Support", "Support"),
    ("1500000000000000002", "AcmeBilling", "Acme Billing", "Billing"),
    ("1500000000000000003", "AcmeEU", "Acme Europe", "Support"),
)
BENCH_AGENT = ("bench@example.test", "Bench Agent", "agent", "Support")
AGENTS = (
    ("alice@example.test", "Alice Agent", "agent", "Support"), ("bruno@example.test", "Bruno Costa", "lead", "Support"),
    ("chen@example.test", "Chen Wei", "agent", "Support"), ("dara@example.test", "Dara Okafor", "agent", "Support"),
    ("eva@example.test", "Eva Lind", "agent", "Support"), ("farah@example.test", "Farah Aziz", "lead", "Billing"),
    ("gus@example.test", "Gus Moreno", "agent", "Billing"), ("hana@example.test", "Hana Sato", "agent", "Billing"),
)  # fmt: skip

FIRST_NAMES = [
    "María", "Kenji", "Priya", "Tom", "Lena", "Ahmed", "Sofia", "Lucas", "Chloé", "Mateo",
    "Aisha", "Noah", "Yuki", "Olga", "Diego", "Emma", "Ravi", "Hannah", "Ibrahim", "Zoë",
    "Liam", "Fatima", "Jonas", "Ana", "Wei", "Camille", "Oskar", "Nia", "Pablo", "Mia",
    "Arjun", "Elena", "Tariq", "Ines", "Jakub", "Leila", "Hugo", "Amara", "Sven", "Grace",
]  # fmt: skip
LAST_NAMES = [
    "Fernández", "Tanaka", "Nair", "Harris", "Kowalski", "Hassan", "Rossi", "Silva", "Dubois", "García",
    "Okafor", "Smith", "Sato", "Ivanova", "López", "Müller", "Patel", "Schmidt", "Yilmaz", "Novak",
    "Brown", "Khan", "Berg", "Costa", "Chen", "Martin", "Nilsson", "Mensah", "Ruiz", "Jensen",
    "Singh", "Popescu", "Aziz", "Moreau", "Wójcik", "Rahimi", "Laurent", "Adeyemi", "Larsen", "Walsh",
    "O'Brien", "Kim", "Nguyen", "Cohen", "Horvat", "Haddad", "Murphy", "Takahashi", "Andersen", "Moretti",
]  # fmt: skip
SEARCH_NAME = "Kowalski"  # a last name: 1 contact in 50
SEARCH_WORD = "refund"  # in many messages
BIOS = [
    "Backend dev. Coffee first.", "旅行と写真", "Makes things with wood.", "Runner. Dad. Occasional complainer.",
    "Designer at a small studio.", "Plant parent 🌱", "Teacher, reader, hiker.", "", "", "",
]  # fmt: skip
LOCATIONS = ["Madrid", "Osaka", "Bengaluru", "Leeds", "Kraków", "Lagos", "São Paulo", "Berlin", "Toronto", "", ""]
OPENERS = [  # the customer's first message; %s is the order number
    "Hi! My order %s still hasn't arrived. It's been over a week, can you check?",
    "Hello, I was charged twice for order %s. Can I get a refund for the duplicate?",
    "Hey, the app keeps logging me out since the last update. My account is on order %s.",
    "Hi there, I'd like to change the delivery address on order %s please",
    "My package (order %s) arrived damaged, the box was crushed. What can I do?",
    "Can you tell me when order %s will ship? The tracking page shows nothing.",
    "hi, the promo code didn't apply on order %s, I paid full price",
    "Good morning! I need an invoice with my company details for order %s.",
    "Is there a way to cancel order %s? I ordered the wrong size.",
    "The item in order %s is not what I ordered: I got a blue one instead of black.",
]
FOLLOW_UPS = [
    "Thanks, here is a photo of the label.",
    "Still nothing on my side, sorry to bother you again.",
    "Ok, I just sent you the screenshot.",
    "It's the email I used at checkout, same as this account.",
    "Any update on this?",
    "That worked, thank you!",
    "Hmm, the link says it expired.",
    "Yes please go ahead with the refund.",
    "I'm at home all week, any day works.",
    "Great, and how long does that usually take?",
]
REPLIES = [  # %s is the order number
    "Hi! Thanks for reaching out, I'm looking into order %s right now.",
    "Sorry about that! Could you send us a photo of the package so we can open a claim?",
    "I've checked with our warehouse: order %s left yesterday, you should get tracking by email today.",
    "I've issued a refund for the duplicate charge; it takes 3-5 business days to show on your statement.",
    "Could you confirm the email address on the order? I can't find it under this account.",
    "Thanks for your patience. I've escalated this to our logistics team and will update you here.",
    "Done! The new address is on order %s.",
    "I've sent a new activation link, it is valid for 24 hours.",
    "A replacement is on its way at no cost, and there's no need to send the damaged one back.",
    "Your invoice for order %s is in the email we just sent.",
]
CLOSERS = [
    "Glad we could help! I'll close this conversation, just write here if anything else comes up.",
    "You're welcome! Have a great day.",
    "Happy to help. This is resolved on our side; reply anytime if you need us.",
]
EXTRAS = [
    "Let me know if there is anything else.",
    "I'm around until 6pm today.",
    "(Sorry for the long wait, it's been a busy week.)",
    "Thanks again, really appreciate it.",
]
NOTES = [
    "Repeat buyer, be generous with the goodwill credit.",
    "Checked with logistics: the carrier lost the parcel, replacement approved.",
    "Card reported stolen: no refund before the bank confirms.",
    "20k followers, tagged us publicly last time.",
]


# u(n, salt): a uniform number in [0, 1) that depends only on its arguments, so every run seeds the same data.
@dataclass
class Desk:
    """The fixed part of the data set: who works which inbox."""

    bench_agent: object
    inbox_ids: list[int]
    team_ids: dict[str, int]
    agents_by_team: dict[str, list[int]]
    now_epoch: int
    thread_pk: int = 0
    long_thread_pk: int = 0
    thread_order_no: str = ""


def prepare() -> Desk:
    """Inboxes with connected X accounts, teams and agents, through the services."""
    from django.utils import timezone

    from accounts.models import Team
    from accounts.services import team_member_add, user_create
    from inbox.services.inboxes import inbox_member_add, inbox_team_add, inbox_upsert
    from twitter_channel.models import XAccount

    now = timezone.now().replace(microsecond=0)
    teams = {name: Team.objects.create(name=name) for name in ("Support", "Billing")}
    inboxes = []
    for x_user_id, handle, display_name, team in INBOXES:
        inbox = inbox_upsert(x_user_id=x_user_id, handle=handle, display_name=display_name)
        inbox_team_add(inbox=inbox, team=teams[team])
        account = XAccount(inbox=inbox, status_changed_at=now, connected_at=now, scopes="dm.read dm.write")
        account.access_token, account.refresh_token = "bench-access", "bench-refresh"
        account.save()
        inboxes.append(inbox)
    agents_by_team: dict[str, list[int]] = {name: [] for name in teams}
    bench_agent = None
    for email, name, role, team in (BENCH_AGENT, *AGENTS):
        user = user_create(email=email, password=None, name=name, role=role)
        team_member_add(team=teams[team], user=user)
        agents_by_team[team].append(user.pk)
        bench_agent = bench_agent or user
    for inbox in inboxes:  # a member of every inbox, and of two through the Support team: both paths of the rule
        inbox_member_add(inbox=inbox, user=bench_agent)
    return Desk(
        bench_agent=bench_agent,
        inbox_ids=[inbox.pk for inbox in inboxes],
        team_ids={name: team.pk for name, team in teams.items()},
        agents_by_team=agents_by_team,
        now_epoch=int(now.timestamp()),
    )


def _rebuild_indexes_later(cursor) -> list[tuple[str, str]]:
    cursor.execute(SECONDARY_INDEXES, [REBUILT_TABLES])
    indexes = cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return indexes


def _plan_params(desk: Desk, lo: int, hi: int, *, small: int) -> dict:
    """The parameters of ``SEED_PLAN``: which conversations, how many live, who works them."""
    shares, below = {}, 0.0
    for status, share in LIVE_SHARES:
        below += share
        shares[f"{status}_below"] = below
    return {
        "lo": lo,
        "hi": hi,
        "live_below": small,
        **shares,
        "long_n": LONG_THREAD_N,
        "long_messages": LONG_THREAD_MESSAGES,
        "now_epoch": desk.now_epoch,
        "inbox_ids": desk.inbox_ids,
        "inbox_x_ids": [x_user_id for x_user_id, *_ in INBOXES],
        "support_team": desk.team_ids["Support"],
        "billing_team": desk.team_ids["Billing"],
        "support_agents": desk.agents_by_team["Support"],
        "billing_agents": desk.agents_by_team["Billing"],
    }


def _bulk_load_session(cursor) -> bool:  # noqa: ANN001
    """Settings for one big load in this transaction; return whether we are a superuser (then the foreign keys
    are checked once at the end, not row by row: the seed is consistent by construction)."""
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
    cursor.execute("SET LOCAL synchronous_commit = off")
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    superuser = cursor.fetchone()[0]
    if superuser:
        cursor.execute("SET LOCAL session_replication_role = replica")
    return superuser


def seed(desk: Desk, lo: int, hi: int, *, small: int) -> None:
    """Conversations ``lo`` to ``hi - 1`` with their contacts, messages and history, in one transaction."""
    from django.db import connection, transaction

    started = time.perf_counter()
    steps: list[tuple[str, float]] = []

    def step(name: str, sql: str, params: dict | None = None) -> int:
        at = time.perf_counter()
        cursor.execute(sql, params)
        steps.append((name, time.perf_counter() - at))
        return cursor.rowcount

    params = _plan_params(desk, lo, hi, small=small)
    with transaction.atomic(), connection.cursor() as cursor:
        superuser = _bulk_load_session(cursor)
        cursor.execute(SEED_FUNCTION)
        rebuild = _rebuild_indexes_later(cursor) if hi - lo > REBUILD_INDEXES_ABOVE else []
        step("plan", SEED_PLAN, params)
        cursor.execute("SELECT count(*), coalesce(sum(messages), 0) FROM seed_plan")
        _, planned_messages = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM inbox_message")
        message_base = cursor.fetchone()[0]
        if message_base + planned_messages >= 2**SEQUENCE_BITS:
            raise SystemExit(f"{message_base + planned_messages:,} messages: the X ids' running number would wrap.")
        names = {"first_names": FIRST_NAMES, "last_names": LAST_NAMES, "bios": BIOS, "locations": LOCATIONS}
        contacts = step("contacts", SEED_CONTACTS, names)
        conversations = step("conversations", SEED_CONVERSATIONS)
        step("ids", SEED_CONVERSATION_IDS, {"message_base": message_base})
        texts = {"openers": OPENERS, "follow_ups": FOLLOW_UPS, "replies": REPLIES, "closers": CLOSERS}
        messages = step(
            "messages",
            SEED_MESSAGES,
            {**texts, "extras": EXTRAS, "x_epoch_ms": X_EPOCH_MS, "sequence_bits": SEQUENCE_BITS},
        )
        step("aggregates", SEED_AGGREGATES)
        step("derived", SEED_DERIVED)
        step("participants", SEED_PARTICIPANTS)
        events = step("events", SEED_EVENTS)
        events += step("notes", SEED_NOTES, {"notes": NOTES})
        if "inbox_conversationread" in connection.introspection.table_names(cursor):
            step("reads", SEED_READS, {"bench_agent": desk.bench_agent.pk})
        at = time.perf_counter()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the foreign keys now: no index builds before that
        steps.append(("foreign keys", time.perf_counter() - at))
        at = time.perf_counter()
        for _name, definition in rebuild:
            cursor.execute(definition)
        if rebuild:
            steps.append((f"{len(rebuild)} indexes", time.perf_counter() - at))
    at = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        if superuser:
            cursor.execute("CHECKPOINT")  # so that writing the seed out does not compete with the measurement
    steps.append(("vacuum analyze", time.perf_counter() - at))
    detail = ", ".join(f"{name} {seconds:.1f}" for name, seconds in steps if seconds >= 0.05)
    print(
        f"seeded {conversations:,} conversations, {contacts:,} contacts, {messages:,} messages, {events:,} events "
        f"in {time.perf_counter() - started:.1f} s ({detail})",
        flush=True,
    )


def pick_threads(desk: Desk) -> None:
    """The thread pages' conversations, the same at both sizes: one of ~30 messages and the longest."""
    from django.db.models import Count

    from inbox.models import Conversation

    by_length = Conversation.objects.annotate(n=Count("messages")).order_by("pk").values_list("pk", "n")
    lengths = list(by_length)
    desk.thread_pk = min(lengths, key=lambda row: (abs(row[1] - TYPICAL_THREAD_MESSAGES), row[0]))[0]
    desk.long_thread_pk = max(lengths, key=lambda row: (row[1], -row[0]))[0]
    contact_x_id = Conversation.objects.get(pk=desk.thread_pk).contact.x_user_id
    desk.thread_order_no = f"BC-{int(contact_x_id) - 4000000000:06d}"
