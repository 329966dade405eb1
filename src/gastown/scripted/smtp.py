"""A small SMTP server on 127.0.0.1 that keeps what it is sent, for tests and demos of
email escalation routes. It speaks enough of RFC 5321 for `smtplib` (EHLO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT, and AUTH PLAIN when given a login); `refuse` makes it answer every MAIL
with a 554, as a server that will not take the town's mail does.

    with FakeSmtp() as smtp:
        ...  # smtp.host, smtp.port
        smtp.messages  # [(sender, [recipients], raw bytes)]
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Self


class FakeSmtp:
    def __init__(self, *, refuse: bool = False, login: tuple[str, str] | None = None) -> None:
        self.refuse, self.login = refuse, login
        self.host, self.port = "127.0.0.1", 0
        self.messages: list[tuple[str, list[str], bytes]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def _serve(self) -> None:
        server = self._loop.run_until_complete(
            asyncio.start_server(self._session, self.host, 0, reuse_address=True)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        sender, recipients, authed = "", list[str](), self.login is None
        say("220 fake-smtp ready")
        while line := (await reader.readline()).decode(errors="replace").rstrip("\r\n"):
            verb, _, rest = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                say("250-fake-smtp" + ("\r\n250-AUTH PLAIN" if self.login else ""))
                say("250 8BITMIME")
            elif verb == "HELO" or verb in ("NOOP", "RSET"):
                say("250 ok")
            elif verb == "AUTH":
                given = base64.b64decode(rest.split(" ")[-1]).split(b"\0")
                authed = self.login is not None and [p.decode() for p in given[1:]] == list(
                    self.login
                )
                say("235 ok" if authed else "535 bad login")
            elif verb == "MAIL":
                if self.refuse or not authed:
                    say("554 no mail taken from you" if self.refuse else "530 login first")
                    continue
                sender, recipients = rest.split(":", 1)[1].strip("<> "), []
                say("250 ok")
            elif verb == "RCPT":
                recipients.append(rest.split(":", 1)[1].strip("<> "))
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                await writer.drain()
                body = b""
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    body += chunk
                self.messages.append((sender, recipients, body))
                say("250 kept")
            elif verb == "QUIT":
                say("221 bye")
                break
            else:
                say("502 not here")
            await writer.drain()
        await writer.drain()
        writer.close()
