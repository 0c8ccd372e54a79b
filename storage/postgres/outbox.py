"""The outbox on PostgreSQL, shared by every instance's worker.

A look claims due rows with FOR UPDATE SKIP LOCKED and leases them in the same statement, with
the database's clock (now()), so N workers never claim one row twice and no instance's clock is
trusted. A status callback may reach any instance, even before the instance that sent the
message has recorded its sid: it is kept in outbox_early_statuses, and the sender's record
takes it up; both take one advisory lock per sid, so neither can miss the other.
"""

from __future__ import annotations

OUTBOX_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION airtng_sid_key(p_sid text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('sid ' || p_sid, 0) $$;

CREATE OR REPLACE FUNCTION airtng_outbox_sent(p_id bigint, p_sid text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_early outbox_early_statuses;
BEGIN
    PERFORM pg_advisory_xact_lock(airtng_sid_key(p_sid));
    DELETE FROM outbox_early_statuses WHERE twilio_sid = p_sid RETURNING * INTO v_early;
    UPDATE outbox SET status = coalesce(v_early.status, 'sent'), twilio_sid = p_sid,
           error_code = v_early.error_code, error = NULL, updated_at = now()
    WHERE id = p_id;
END $$;

-- A status callback; 'sent' never takes a delivered or failed message back.
CREATE OR REPLACE FUNCTION airtng_outbox_status(p_sid text, p_status text, p_code integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(airtng_sid_key(p_sid));
    IF NOT EXISTS (SELECT 1 FROM outbox WHERE twilio_sid = p_sid) THEN
        INSERT INTO outbox_early_statuses (twilio_sid, status, error_code, at)
        VALUES (p_sid, p_status, p_code, now())
        ON CONFLICT (twilio_sid) DO UPDATE SET status = EXCLUDED.status,
            error_code = EXCLUDED.error_code, at = EXCLUDED.at
        WHERE EXCLUDED.status != 'sent';
    ELSIF p_status IN ('failed', 'undelivered') THEN
        UPDATE outbox SET status = p_status, error_code = p_code, updated_at = now()
        WHERE twilio_sid = p_sid;
    ELSE
        UPDATE outbox SET status = p_status, updated_at = now()
        WHERE twilio_sid = p_sid AND status IN ('queued', 'sending', 'sent');
    END IF;
END $$;
"""

# $1 how many, $2 ids in flight here, $3 the lease in seconds.
CLAIM = """
WITH due AS (
    SELECT id, status AS was, attempts AS tried FROM outbox
    WHERE status IN ('queued', 'sending') AND next_attempt_at <= now() AND id <> ALL ($2)
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE outbox o SET status = 'sending', attempts = due.tried + 1,
           next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.to_phone, o.from_phone, o.body, o.media_url, due.was, due.tried,
              o.next_attempt_at, o.created_at
)
SELECT
    coalesce((SELECT jsonb_agg(jsonb_build_object(
        'id', c.id, 'to', c.to_phone, 'from', c.from_phone, 'body', c.body,
        'media_url', c.media_url, 'status', c.was, 'attempts', c.tried,
        'next_attempt_at', airtng_stamp(c.next_attempt_at),
        'created_at', airtng_stamp(c.created_at),
        'opted_out', coalesce(p.opted_out, false)) ORDER BY c.id)
        FROM claimed c LEFT JOIN people p ON p.phone = c.to_phone), '[]') AS items,
    (SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM outbox
        WHERE status IN ('queued', 'sending') AND next_attempt_at > now()) AS later
"""
