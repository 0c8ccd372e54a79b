"""The two reference servers the benchmark measures the bot against, in the same run.

    python -m bench.baseline bare  --port 9001
    python -m bench.baseline floor --port 9002 --public-url http://127.0.0.1:8080 --auth-token T

`bare` parses the form and returns fixed TwiML: the most aiohttp can do here. `floor` also does
what Twilio's protocol obliges every turn to do: validate X-Twilio-Signature with
RequestValidator, render a MessagingResponse and set a cookie. Nothing else.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

FIXED = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Welcome to Airtng.'
    "</Message></Response>"
)


def bare_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text=FIXED, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/sms", handler)
    return app


def floor_app(public_url: str, auth_token: str) -> web.Application:
    validator = RequestValidator(auth_token)

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(public_url + request.path_qs, form, signature):
            raise web.HTTPForbidden()
        twiml = MessagingResponse()
        twiml.message(f"You said: {form.get('Body', '')}")
        response = web.Response(text=twiml.to_xml(), content_type="text/xml")
        response.set_cookie("airtng_session", "1.abcdef", max_age=14400, httponly=True)
        return response

    app = web.Application()
    app.router.add_post("/sms", handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "floor"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-url", default="")
    parser.add_argument("--auth-token", default="")
    args = parser.parse_args()
    app = bare_app() if args.kind == "bare" else floor_app(args.public_url, args.auth_token)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
