"""A conversation turn on PostgreSQL, in two round trips however many instances serve:

    1. `airtng_turn_load`: wait for the pair's advisory lock (one turn of a conversation at a
       time, in arrival order, across instances), answer a MessageSid already handled, else
       return as one JSON document what the turn may read: the person, the pair's live
       conversation, their homes, their reservations as guest, the open reservations at their
       homes and at the home they are booking, the people those involve, and the version of
       the homes every instance caches.
    2. One simple-protocol message, `BEGIN; SELECT airtng_turn_apply(<changes>); COMMIT;
       SELECT pg_advisory_unlock(<key>)`: every row of the turn written by one PL/pgSQL
       function, committed, and only then the pair handed to the next turn.

What the load did not bring (a reservation by reference, a home's stays for LIST with dates, a
new reservation's id) is asked with `airtng_turn_more` (one more round trip, on the turns
that need it). Between the round trips no transaction is open: what other pairs change
meanwhile is caught by the writes' guards (a reservation changes only while pending, a
conversation only at the version read), by the exclusion constraint on confirmed stays, and
by taking a lock per conversation a turn may start (sorted, so two turns never wait on each
other); a refused write rolls the turn back and it is decided again on a fresh load.
"""

from __future__ import annotations

# Errors the apply function raises on purpose: the turn was decided on a view that moved.
STALE = "AS409"

TURN_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION airtng_pair_key(p_bot text, p_phone text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended(p_bot || ' ' || p_phone, 0) $$;

-- The key of "starting a conversation for this pair": another key space than the pair's turn
-- lock, taken only inside the apply function, all at once and in order.
CREATE OR REPLACE FUNCTION airtng_start_key(p_bot text, p_phone text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('start ' || p_bot || ' ' || p_phone, 0) $$;

CREATE OR REPLACE FUNCTION airtng_stamp(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') || '+00:00'
$$;

CREATE OR REPLACE FUNCTION airtng_reservation_json(r reservations, guest_phone text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'property_id', r.property_id, 'guest_phone', guest_phone,
        'check_in', r.check_in::text, 'check_out', r.check_out::text, 'message', r.message,
        'status', r.status, 'created_at', r.created_at, 'updated_at', r.updated_at,
        'reminded_at', r.reminded_at)
$$;

CREATE OR REPLACE FUNCTION airtng_person_json(p people) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'phone', p.phone, 'name', p.name,
                              'opted_out', p.opted_out)
$$;

CREATE OR REPLACE FUNCTION airtng_home_json(h properties, host_phone text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', h.id, 'host_phone', host_phone, 'title', h.title, 'place', h.place,
        'description', h.description, 'nightly_price', h.nightly_price,
        'image_url', h.image_url, 'active', h.active)
$$;

-- Reservations (with their guests' and hosts' people) as the view of a turn wants them.
-- PL/pgSQL, not SQL: its plans are kept for the session instead of made on every call.
CREATE OR REPLACE FUNCTION airtng_reservations_view(p_ids bigint[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN
        RETURN '{"reservations": [], "people": []}';
    END IF;
    RETURN jsonb_build_object(
        'reservations', coalesce((
            SELECT jsonb_agg(airtng_reservation_json(r, g.phone) ORDER BY r.id)
            FROM reservations r JOIN people g ON g.id = r.guest_id
            WHERE r.id = ANY (p_ids)), '[]'),
        'people', coalesce((
            SELECT jsonb_agg(airtng_person_json(p)) FROM people p WHERE p.id IN (
                SELECT r.guest_id FROM reservations r WHERE r.id = ANY (p_ids)
                UNION
                SELECT h.host_id FROM reservations r JOIN properties h ON h.id = r.property_id
                WHERE r.id = ANY (p_ids))), '[]'));
END $$;

CREATE OR REPLACE FUNCTION airtng_turn_load(
    p_sid text, p_bot text, p_phone text, p_live_since timestamptz, p_lock boolean
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_key bigint := airtng_pair_key(p_bot, p_phone);
    v_answer text;
    v_person people;
    v_conversation conversations;
    v_booking bigint;
    v_ids bigint[];
    v_view jsonb;
BEGIN
    IF p_lock THEN
        PERFORM pg_advisory_lock(v_key);
    END IF;
    SELECT * INTO v_conversation FROM conversations
        WHERE phone = p_phone AND bot_phone = p_bot AND last_at >= p_live_since
        ORDER BY last_at DESC, id DESC LIMIT 1;
    SELECT twiml INTO v_answer FROM handled_messages WHERE sid = p_sid;
    IF FOUND THEN
        -- Answered before, by this instance or another: nothing to write, hand the pair on.
        IF p_lock THEN
            PERFORM pg_advisory_unlock(v_key);
        END IF;
        RETURN jsonb_build_object(
            'handled', v_answer, 'key', v_key, 'unlocked', p_lock,
            'conversation', CASE WHEN v_conversation.id IS NOT NULL THEN jsonb_build_object(
                'id', v_conversation.id, 'bot_phone', v_conversation.bot_phone,
                'phone', v_conversation.phone, 'state', v_conversation.state,
                'data', v_conversation.data, 'started_at', v_conversation.started_at,
                'last_at', v_conversation.last_at, 'version', v_conversation.version) END);
    END IF;
    SELECT * INTO v_person FROM people WHERE phone = p_phone;
    v_booking := CASE WHEN jsonb_typeof(v_conversation.data -> 'draft' -> 'property_id') = 'number'
                      THEN (v_conversation.data -> 'draft' ->> 'property_id')::bigint END;
    SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM (
        SELECT r.id FROM reservations r WHERE r.guest_id = v_person.id
        UNION
        SELECT r.id FROM reservations r JOIN properties h ON h.id = r.property_id
            WHERE h.host_id = v_person.id AND r.status IN ('pending', 'confirmed')
        UNION
        SELECT r.id FROM reservations r
            WHERE r.property_id = v_booking AND r.status IN ('pending', 'confirmed')
    ) ids;
    v_view := airtng_reservations_view(v_ids);
    RETURN jsonb_build_object(
        'handled', NULL, 'key', v_key, 'unlocked', false,
        'homes_version', (SELECT value FROM settings WHERE key = 'homes_version'),
        'person', CASE WHEN v_person.id IS NOT NULL THEN airtng_person_json(v_person) END,
        'conversation', CASE WHEN v_conversation.id IS NOT NULL THEN jsonb_build_object(
            'id', v_conversation.id, 'bot_phone', v_conversation.bot_phone,
            'phone', v_conversation.phone, 'state', v_conversation.state,
            'data', v_conversation.data, 'started_at', v_conversation.started_at,
            'last_at', v_conversation.last_at, 'version', v_conversation.version) END,
        -- A conversation to start gets its id now (a gap in the sequence if the turn fails).
        'new_conversation_id', CASE WHEN v_conversation.id IS NULL
            THEN nextval('conversations_id_seq') END,
        'homes', coalesce((
            SELECT jsonb_agg(airtng_home_json(h, p_phone) ORDER BY h.id)
            FROM properties h WHERE h.host_id = v_person.id), '[]'),
        'open_at', to_jsonb(array_remove(ARRAY[v_booking] || ARRAY(
            SELECT h.id FROM properties h WHERE h.host_id = v_person.id), NULL)),
        'reservations', v_view -> 'reservations',
        'people', v_view -> 'people');
END $$;

-- What a turn's first decision asked for beyond the load: people by phone, reservations by
-- id, the open reservations at homes, homes by id, and a new reservation's id.
CREATE OR REPLACE FUNCTION airtng_turn_more(
    p_people text[], p_reservations bigint[], p_open_at bigint[], p_homes bigint[],
    p_new_reservation boolean
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
    v_view jsonb;
BEGIN
    SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM (
        SELECT id FROM reservations WHERE id = ANY (p_reservations)
        UNION
        SELECT id FROM reservations
            WHERE property_id = ANY (p_open_at) AND status IN ('pending', 'confirmed')
    ) ids;
    v_view := airtng_reservations_view(v_ids);
    RETURN jsonb_build_object(
        'reservations', v_view -> 'reservations',
        'people', (v_view -> 'people') || coalesce((
            SELECT jsonb_agg(airtng_person_json(p)) FROM people p
            WHERE p.phone = ANY (p_people)), '[]'),
        'homes', coalesce((
            SELECT jsonb_agg(airtng_home_json(h, p.phone))
            FROM properties h JOIN people p ON p.id = h.host_id WHERE h.id = ANY (p_homes)), '[]'),
        'open_at', to_jsonb(p_open_at),
        'new_reservation_id', CASE WHEN p_new_reservation
            THEN nextval('reservations_id_seq') END);
END $$;

CREATE OR REPLACE FUNCTION airtng_person_id(p_phone text, p_at timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT id INTO v_id FROM people WHERE phone = p_phone;
    IF NOT FOUND THEN
        INSERT INTO people (phone, created_at, updated_at) VALUES (p_phone, p_at, p_at)
            ON CONFLICT (phone) DO NOTHING;
        SELECT id INTO v_id FROM people WHERE phone = p_phone;
    END IF;
    RETURN v_id;
END $$;

-- The live conversation of a pair a message goes in, started if there is none. The caller
-- holds the pair's start lock, so two turns never start two.
CREATE OR REPLACE FUNCTION airtng_conversation_of(
    p_bot text, p_phone text, p_live_since timestamptz, p_at timestamptz
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT id INTO v_id FROM conversations
        WHERE phone = p_phone AND bot_phone = p_bot AND last_at >= p_live_since
        ORDER BY last_at DESC, id DESC LIMIT 1;
    IF NOT FOUND THEN
        PERFORM airtng_person_id(p_phone, p_at);
        INSERT INTO conversations (bot_phone, phone, state, data, started_at, last_at, version)
            VALUES (p_bot, p_phone, 'start', '{}', p_at, p_at, 1) RETURNING id INTO v_id;
    END IF;
    RETURN v_id;
END $$;

-- Everything a turn (or an expiry, a reminder) changes, in one call: see
-- storage/postgres/changes.py for the document's shape. Raises AS409 when the view it was
-- decided on has moved; the caller rolls back and decides again.
CREATE OR REPLACE FUNCTION airtng_turn_apply(c jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := (c ->> 'at')::timestamptz;
    v_bot text := c ->> 'bot';
    v_since timestamptz := (c ->> 'live_since')::timestamptz;
    v_sender text := c ->> 'sender';
    v_sender_id bigint;
    v_conv jsonb := c -> 'conversation';
    v_own bigint;
    v_item jsonb;
    v_home jsonb;
    v_outbox bigint;
    v_where bigint;
    v_queued boolean := false;
    v_was boolean;
BEGIN
    -- Conversations this turn may start, for other people than the sender: their start locks,
    -- all at once in key order (no two turns can wait on each other for them).
    PERFORM pg_advisory_xact_lock(k) FROM (
        SELECT airtng_start_key(v_bot, m ->> 'phone') AS k
            FROM jsonb_array_elements(coalesce(c -> 'messages', '[]')) m
            WHERE NOT coalesce((m ->> 'own')::boolean, false)
        UNION
        SELECT airtng_start_key(v_bot, v_sender)
            WHERE v_conv IS NOT NULL AND (v_conv ->> 'new')::boolean
        ORDER BY 1) keys;
    IF v_sender IS NOT NULL THEN
        v_sender_id := airtng_person_id(v_sender, v_at);
        IF c ? 'person' THEN
            SELECT opted_out INTO v_was FROM people WHERE id = v_sender_id FOR UPDATE;
            IF (c -> 'person' ->> 'opted_out')::boolean IS DISTINCT FROM v_was
               AND c -> 'person' ->> 'opted_out' IS NOT NULL THEN
                INSERT INTO opt_changes (person_id, opted_out, source, at)
                VALUES (v_sender_id, (c -> 'person' ->> 'opted_out')::boolean, 'keyword', v_at);
            END IF;
            UPDATE people SET
                name = coalesce(c -> 'person' ->> 'name', name),
                opted_out = coalesce((c -> 'person' ->> 'opted_out')::boolean, opted_out),
                updated_at = v_at
            WHERE id = v_sender_id;
        END IF;
    END IF;
    IF v_conv IS NOT NULL THEN
        v_own := (v_conv ->> 'id')::bigint;
        IF (v_conv ->> 'new')::boolean THEN
            IF EXISTS (SELECT 1 FROM conversations WHERE phone = v_sender AND bot_phone = v_bot
                       AND last_at >= v_since) THEN
                RAISE EXCEPTION 'a conversation of this pair was started meanwhile'
                    USING ERRCODE = 'AS409';
            END IF;
            INSERT INTO conversations (id, bot_phone, phone, state, data, started_at, last_at,
                                       version)
            VALUES (v_own, v_bot, v_sender, v_conv ->> 'state', v_conv -> 'data', v_at, v_at, 1);
        ELSE
            UPDATE conversations SET state = v_conv ->> 'state', data = v_conv -> 'data',
                   last_at = v_at, version = version + 1
            WHERE id = v_own AND version = (v_conv ->> 'version')::integer;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'conversation % moved on meanwhile', v_own
                    USING ERRCODE = 'AS409';
            END IF;
        END IF;
    END IF;
    v_home := c -> 'new_home';
    IF v_home IS NOT NULL THEN
        INSERT INTO properties (host_id, title, place, description, image_url, nightly_price,
                                active, created_at, updated_at)
        VALUES (v_sender_id, v_home ->> 'title', v_home ->> 'place', v_home ->> 'description',
                v_home ->> 'image_url', (v_home ->> 'nightly_price')::integer,
                (v_home ->> 'active')::boolean, v_at, v_at);
    END IF;
    FOR v_home IN SELECT * FROM jsonb_array_elements(coalesce(c -> 'home_changes', '[]')) LOOP
        UPDATE properties SET title = v_home ->> 'title', place = v_home ->> 'place',
               description = v_home ->> 'description', image_url = v_home ->> 'image_url',
               nightly_price = (v_home ->> 'nightly_price')::integer,
               active = (v_home ->> 'active')::boolean, updated_at = v_at
        WHERE id = (v_home ->> 'id')::bigint AND host_id = v_sender_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'home % is not the sender''s', v_home ->> 'id'
                USING ERRCODE = 'AS409';
        END IF;
    END LOOP;
    v_item := c -> 'new_reservation';
    IF v_item IS NOT NULL THEN
        INSERT INTO reservations (id, property_id, guest_id, check_in, check_out, message,
                                  status, created_at, updated_at)
        VALUES ((v_item ->> 'id')::bigint, (v_item ->> 'property_id')::bigint,
                airtng_person_id(v_item ->> 'guest_phone', v_at),
                (v_item ->> 'check_in')::date, (v_item ->> 'check_out')::date,
                v_item ->> 'message', v_item ->> 'status', v_at, v_at);
    END IF;
    -- Only a pending request changes, and only once: the guard is the lifecycle's.
    FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(c -> 'changes', '[]')) LOOP
        UPDATE reservations SET status = v_item ->> 2, updated_at = v_at
        WHERE id = (v_item ->> 0)::bigint AND status = v_item ->> 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'request % is no longer %', v_item ->> 0, v_item ->> 1
                USING ERRCODE = 'AS409';
        END IF;
    END LOOP;
    FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(c -> 'reminded', '[]')) LOOP
        UPDATE reservations SET reminded_at = v_at
        WHERE id = (v_item #>> '{}')::bigint AND status = 'pending' AND reminded_at IS NULL;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'request % was decided or reminded meanwhile', v_item #>> '{}'
                USING ERRCODE = 'AS409';
        END IF;
    END LOOP;
    FOR v_item IN SELECT * FROM jsonb_array_elements(coalesce(c -> 'messages', '[]')) LOOP
        v_outbox := NULL;
        IF v_item ? 'outbox' THEN
            INSERT INTO outbox (to_phone, from_phone, body, media_url, status, attempts,
                                next_attempt_at, reservation_id, created_at, updated_at)
            VALUES (v_item ->> 'phone', v_bot, v_item ->> 'body',
                    v_item -> 'media' ->> 0, 'queued', 0, now(),
                    (v_item ->> 'reservation_id')::bigint, v_at, v_at)
            RETURNING id INTO v_outbox;
            v_queued := true;
        END IF;
        IF coalesce((v_item ->> 'own')::boolean, false) THEN
            v_where := v_own;
        ELSE
            v_where := airtng_conversation_of(v_bot, v_item ->> 'phone', v_since, v_at);
        END IF;
        INSERT INTO messages (conversation_id, direction, phone, body, media, twilio_sid, status,
                              outbox_id, state_before, state_after, at)
        VALUES (v_where, v_item ->> 'direction', v_item ->> 'phone', v_item ->> 'body',
                coalesce(v_item -> 'media', '[]'), v_item ->> 'sid', v_item ->> 'status',
                v_outbox, v_item ->> 'state_before', v_item ->> 'state_after', v_at);
    END LOOP;
    IF c ? 'handled' THEN
        INSERT INTO handled_messages (sid, twiml, at)
        VALUES (c -> 'handled' ->> 'sid', c -> 'handled' ->> 'twiml', v_at);
    END IF;
    IF v_queued THEN
        PERFORM pg_notify('airtng_outbox', '');
    END IF;
END $$;
"""
