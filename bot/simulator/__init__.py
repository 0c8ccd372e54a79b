"""The phone simulator of dev mode: Twilio and the phones at both ends, in a browser page.

    twilio_side.py   the carrier: signed webhooks, a cookie jar per pair, TwiML read as Twilio does
    web.py           the page at / and /simulator, its live event stream and photo uploads

Nothing here reaches into the bot: a simulated text is an HTTP POST to the bot's own /sms, and
the bot's REST messages come back through dev mode's Messages.json (bot/dev_twilio.py).
"""
