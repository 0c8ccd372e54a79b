"""The database schema as a list of forward migrations, applied in order at start-up.

A migration is never edited once it has shipped: add a new one at the end. `PRAGMA user_version`
records how many have been applied.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: the whole first schema.
    """
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE people (
        id         INTEGER PRIMARY KEY,
        phone      TEXT NOT NULL UNIQUE,          -- E.164, or the raw sender id Twilio gave
        name       TEXT,
        opted_out  INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE properties (
        id            INTEGER PRIMARY KEY,
        host_id       INTEGER NOT NULL REFERENCES people(id),
        title         TEXT NOT NULL,
        place         TEXT NOT NULL,
        description   TEXT NOT NULL,
        image_url     TEXT,
        nightly_price INTEGER NOT NULL CHECK (nightly_price > 0),   -- whole dollars
        active        INTEGER NOT NULL DEFAULT 1,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX properties_by_host ON properties(host_id);

    CREATE TABLE reservations (
        id          INTEGER PRIMARY KEY,
        property_id INTEGER NOT NULL REFERENCES properties(id),
        guest_id    INTEGER NOT NULL REFERENCES people(id),
        check_in    TEXT NOT NULL,
        check_out   TEXT NOT NULL CHECK (check_out > check_in),
        message     TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'rejected', 'withdrawn', 'expired')),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX reservations_by_property ON reservations(property_id, status, check_in);
    CREATE INDEX reservations_by_guest ON reservations(guest_id, id);
    CREATE INDEX reservations_by_status ON reservations(status, created_at);

    -- One row per conversation: the (bot number, person) pair, its state machine's state and
    -- data, and a version bumped on every turn (optimistic updates: an UPDATE that finds
    -- another version changes nothing and the turn is refused).
    CREATE TABLE conversations (
        id         INTEGER PRIMARY KEY,
        bot_phone  TEXT NOT NULL,
        phone      TEXT NOT NULL,
        state      TEXT NOT NULL,
        data       TEXT NOT NULL DEFAULT '{}',
        started_at TEXT NOT NULL,
        last_at    TEXT NOT NULL,
        version    INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX conversations_by_pair ON conversations(phone, bot_phone, last_at);
    CREATE INDEX conversations_by_last ON conversations(last_at);

    -- Every message in and out. Outbound REST messages point at their outbox row, which
    -- carries the delivery status; inbound and TwiML replies carry their own.
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        phone           TEXT NOT NULL,            -- the person at the other end
        body            TEXT NOT NULL,
        media           TEXT NOT NULL DEFAULT '[]',  -- JSON list of URLs
        twilio_sid      TEXT,
        status          TEXT NOT NULL,           -- received | replied | (outbox status)
        outbox_id       INTEGER,
        state_before    TEXT,
        state_after     TEXT,
        at              TEXT NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE INDEX messages_by_phone ON messages(phone, id);
    CREATE INDEX messages_by_outbox ON messages(outbox_id) WHERE outbox_id IS NOT NULL;

    -- Inbound MessageSids already handled, with the TwiML that answered them: a retry from
    -- Twilio or a proxy gets the same answer and changes nothing.
    CREATE TABLE handled_messages (
        sid   TEXT PRIMARY KEY,
        twiml TEXT NOT NULL,
        at    TEXT NOT NULL
    ) WITHOUT ROWID;

    -- Messages that are not replies, written in the turn's transaction and sent afterwards.
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        to_phone        TEXT NOT NULL,
        from_phone      TEXT NOT NULL,
        body            TEXT NOT NULL,
        media_url       TEXT,
        status          TEXT NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'sending', 'sent', 'delivered',
                                          'undelivered', 'failed', 'cancelled')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        twilio_sid      TEXT,
        error_code      INTEGER,
        error           TEXT,
        reservation_id  INTEGER,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status IN ('queued', 'sending');
    CREATE INDEX outbox_by_sid ON outbox(twilio_sid) WHERE twilio_sid IS NOT NULL;
    CREATE INDEX outbox_by_status ON outbox(status, id);
    """,
    # 2: indexes the first schema missed (tests/storage/test_schema.py explains every plan).
    # The start loads the most recent handled MessageSids (ORDER BY at DESC LIMIT n): without
    # an index on `at` it read and sorted every message ever handled.
    # The operator's reservations by status, newest first (ORDER BY id DESC): the index
    # reservations_by_status is ordered by created_at, so every reservation of that status was
    # sorted to show one page.
    """
    CREATE INDEX handled_by_at ON handled_messages(at);
    CREATE INDEX reservations_by_status_id ON reservations(status, id);
    """,
    # 3: hosts are reminded once of a request that waits past half its time to live; the
    # moment is kept, so a restart neither forgets the reminder nor sends it again.
    """
    ALTER TABLE reservations ADD COLUMN reminded_at TEXT;
    """,
    # 4: the operator console (bot/console): every filter it offers has an index.
    # Words in messages: an external-content FTS5 index over messages.body, kept in step by
    # triggers (a LIKE would read every message of the filtered set; FTS5 answers a word from
    # its own b-tree). Conversations by state, newest first; reservations by check-in date and
    # by creation (the overview's requests per day); the outbox rows of a reservation (its
    # history); messages and outbox rows by time (the overview and `run.py retention`); people
    # who opted out.
    # operator_actions: what operators did (a retried delivery, a redaction), shown and kept.
    """
    CREATE INDEX conversations_by_state ON conversations(state, last_at);
    CREATE INDEX reservations_by_check_in ON reservations(check_in);
    CREATE INDEX reservations_by_created ON reservations(created_at);
    CREATE INDEX outbox_by_reservation ON outbox(reservation_id, id)
        WHERE reservation_id IS NOT NULL;
    CREATE INDEX messages_by_at ON messages(at);
    CREATE INDEX outbox_by_created ON outbox(created_at);
    CREATE INDEX people_opted_out ON people(opted_out) WHERE opted_out = 1;

    CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id');
    INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END;

    CREATE TABLE operator_actions (
        id     INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        action TEXT NOT NULL,      -- retry | redact | retention
        target TEXT NOT NULL,      -- what it acted on: "outbox 12", "person 3"
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX operator_actions_by_at ON operator_actions(at);
    """,
    # 5: the word index catches up in bulk instead of row by row. Indexing each message as it
    # was inserted cost the turn's commit about half its time (an FTS5 segment per small
    # transaction); now bot/search_index.py indexes every message up to `messages_indexed_upto`
    # a few thousand rows a transaction, and the console catches it up before a word search.
    # A changed or deleted body is taken out of the index only if it was ever put in.
    """
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_delete;
    DROP TRIGGER messages_fts_update;
    INSERT INTO settings (key, value)
        VALUES ('messages_indexed_upto', (SELECT COALESCE(MAX(id), 0) FROM messages))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM settings
                    WHERE key = 'messages_indexed_upto')
    BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
    WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM settings
                    WHERE key = 'messages_indexed_upto')
    BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END;
    """,
    # 6: opt-outs and opt-ins as events, so the console counts how many happened in a period
    # (people.opted_out only says who is opted out now: three who stopped and came back count
    # nothing there). People opted out before this migration count from their last change.
    """
    CREATE TABLE opt_changes (
        id        INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id),
        opted_out INTEGER NOT NULL CHECK (opted_out IN (0, 1)),   -- 1: out, 0: back in
        source    TEXT NOT NULL,   -- keyword | twilio (a 21610 refusal) | migration
        at        TEXT NOT NULL
    );
    CREATE INDEX opt_changes_by_at ON opt_changes(at);
    INSERT INTO opt_changes (person_id, opted_out, source, at)
        SELECT id, 1, 'migration', updated_at FROM people WHERE opted_out = 1;
    """,
    # 7: the word index merges its segments a little at every catch-up step
    # (writes.index_messages) instead of all at once whenever FTS5 decides: its own automatic
    # merges made one step in ~40 cost 5-15 ms of the writer's time, and the turns committed
    # with that step waited as long (a quarter of the benchmark's slowest 1% of turns).
    """
    INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0);
    """,
    # 8: handled MessageSids kept in the order they came, with a narrow index on the sid.
    # Twilio's MessageSids are random ("SM" and 32 hex digits), so a table keyed by them, each
    # row holding its TwiML (~240 bytes, ~11 rows a page), put every turn's row on a page of
    # its own and split one every few rows: under the browse benchmark with Twilio-shaped sids,
    # 70 of the 110 pages a group commit wrote to the WAL. Now the rows go at the end of the
    # table and only the sid's index entry (~40 bytes) lands at random.
    """
    CREATE TABLE handled_messages_by_arrival (
        id    INTEGER PRIMARY KEY,
        sid   TEXT NOT NULL,
        twiml TEXT NOT NULL,
        at    TEXT NOT NULL
    );
    INSERT INTO handled_messages_by_arrival (sid, twiml, at)
        SELECT sid, twiml, at FROM handled_messages ORDER BY at, sid;
    DROP TABLE handled_messages;
    ALTER TABLE handled_messages_by_arrival RENAME TO handled_messages;
    CREATE UNIQUE INDEX handled_by_sid ON handled_messages(sid);
    CREATE INDEX handled_by_at ON handled_messages(at);
    """,
]


def schema_problem(conn: sqlite3.Connection) -> str | None:
    """Why this code cannot use the database as it is (not migrated, or migrated by newer
    code), or None."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == len(MIGRATIONS):
        return None
    age = "newer" if version > len(MIGRATIONS) else "older"
    return f"the database is at schema version {version}, {age} than this code's {len(MIGRATIONS)}"


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest schema; returns the version it is at."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this code "
            f"({len(MIGRATIONS)}): run the newer code, or restore a backup"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first, so each migration runs in its own explicit transaction.
        conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
