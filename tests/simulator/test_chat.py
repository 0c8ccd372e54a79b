"""`python run.py chat`: a phone in the terminal, through the running dev server's simulator."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path

from tests.simulator.conftest import GUEST, HOST, DevBot, stay

RUN = Path(__file__).resolve().parents[2] / "run.py"


def config_file(dev: DevBot, tmp_path: Path) -> Path:
    path = tmp_path / "chat.toml"
    path.write_text(
        f'[server]\nport = {dev.config.server.port}\n[storage]\npath = "airtng.db"\n',
        encoding="utf-8",
    )
    return path


async def read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> str:
    async with asyncio.timeout(15):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise EOFError(f"chat ended before {needle!r}; it said {seen}")
            seen.append(line)
            if needle in line:
                return line


async def test_the_host_chats_sees_a_request_arrive_and_accepts(
    dev: DevBot, tmp_path: Path
) -> None:
    chat = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RUN),
        "--config",
        str(config_file(dev, tmp_path)),
        "chat",
        "--from",
        HOST,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert chat.stdin is not None and chat.stdout is not None
    said: list[str] = []
    try:
        banner = await read_until(chat.stdout, "You are", said)
        assert f"You are {HOST}, texting the bot at {dev.bot_number}" in banner
        for body in ("LIST", "1", "BOOK", stay(date.today()), "Quiet pair", "Ana", "SEND"):
            await dev.say(GUEST, body)
        # A REST text to this phone arrives on its own, while the chat waits for input.
        request = await read_until(chat.stdout, "New request", said)
        assert request.startswith("< New request 1: Beach House") and "(REST)" in request
        chat.stdin.write(b"ACCEPT\n")
        accepted = await read_until(chat.stdout, "You accepted", said)
        assert accepted.startswith("< You accepted request 1") and "(TwiML)" in accepted
        chat.stdin.write(b"/jump\n")
        await read_until(chat.stdout, "Twilio's clock is 4 h ahead", said)
        chat.stdin.close()
        assert await asyncio.wait_for(chat.wait(), 15) == 0
    finally:
        if chat.returncode is None:
            chat.kill()
            await chat.wait()
    # The guest's good news went to the guest's phone, not to this terminal.
    assert not any("Good news" in line for line in said)
    assert dev.simulator.history(GUEST)[-1]["body"].startswith("Good news!")


async def test_chat_without_a_server_says_so(tmp_path: Path) -> None:
    path = tmp_path / "none.toml"
    path.write_text("[server]\nport = 9\n", encoding="utf-8")
    chat = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RUN),
        "--config",
        str(path),
        "chat",
        "--from",
        GUEST,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(chat.communicate(), 15)
    assert chat.returncode == 1
    assert b"no server at http://127.0.0.1:9" in err
