"""E-mail over SMTP with aiosmtplib: plain text and HTML (multipart/
alternative), a List-Unsubscribe header (RFC 2369) pointing at the
notification settings, and a Message-ID made from the outbox row's ext_id,
unique per message and recipient and the same on every retry, so a relay
or a mailbox that saw it already can drop the copy (RFC 5322 section 3.6.4).

Two costs are paid once rather than per recipient (bench.notify measures
them): the MIME body, the same for every recipient of a message, is
rendered once and only To and Message-ID are written per recipient; and
connections to the relay are kept and reused (one per concurrent send, at
most notify.concurrency), a connection idle for IDLE_S being closed rather
than reused, since relays drop idle clients (RFC 5321 section 4.5.3.2.7:
after 5 minutes at least)."""

from __future__ import annotations

import ssl
import time
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from dispatch.core.out_texts import email_html
from dispatch.core.outbox import OutboxItem, Outcome

IDLE_S = 30.0
TEMPLATES = 64  # messages whose rendered body is kept (a broadcast's recipients share one)


class SmtpSender:
    channel = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        tls: str,
        user: str,
        password: str,
        unsubscribe_url: str,
        timeout_s: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender, self.tls = host, port, sender, tls
        self.user, self.password = user or None, password or None
        self.unsubscribe_url = unsubscribe_url
        self.timeout_s = timeout_s
        self.envelope_from = parseaddr(sender)[1] or sender
        self.domain = self.envelope_from.rpartition("@")[2] or "localhost"
        self._templates: dict[tuple[str, str, float], bytes] = {}
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []

    def message(self, item: OutboxItem, headers: bool = True) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        if headers:
            msg["To"] = item.dest
            msg["Message-ID"] = self.message_id(item)
        msg["Subject"] = item.subject
        msg["Date"] = formatdate(item.created_at.timestamp(), usegmt=True)
        msg["List-Unsubscribe"] = f"<{self.unsubscribe_url}>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(item.body)
        msg.add_alternative(email_html(item.subject, item.body, self.unsubscribe_url), subtype="html")
        return msg

    def message_id(self, item: OutboxItem) -> str:
        return f"<{item.ext_id}@{self.domain}>"

    def raw(self, item: OutboxItem) -> bytes:
        """The message as sent: the shared rendering with this recipient's To
        and Message-ID in front (an address that is not plain ASCII is
        rendered whole, for the e-mail package to encode)."""
        if not item.dest.isascii() or "\r" in item.dest or "\n" in item.dest:
            return self.message(item).as_bytes(policy=policy.SMTP)
        key = (item.subject, item.body, item.created_at.timestamp())
        shared = self._templates.get(key)
        if shared is None:
            shared = self.message(item, headers=False).as_bytes(policy=policy.SMTP)
            if len(self._templates) >= TEMPLATES:
                self._templates.pop(next(iter(self._templates)))
            self._templates[key] = shared
        return f"To: {item.dest}\r\nMessage-ID: {self.message_id(item)}\r\n".encode() + shared

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            tls_context=ssl.create_default_context() if self.tls != "none" else None,
            timeout=self.timeout_s,
        )
        await client.connect()
        return client

    def _take(self) -> aiosmtplib.SMTP | None:
        """A kept connection used within IDLE_S, if any (older ones are dropped)."""
        now = time.monotonic()
        while self._idle:
            used, client = self._idle.pop()
            if now - used < IDLE_S and client.is_connected:
                return client
            client.close()
        return None

    async def send(self, item: OutboxItem) -> Outcome:
        raw = self.raw(item)
        client = self._take()
        try:
            if client is not None:
                try:
                    await client.sendmail(self.envelope_from, [item.dest], raw)
                except aiosmtplib.SMTPServerDisconnected:  # the relay closed it meanwhile
                    client = None
            if client is None:
                client = await self._connect()
                await client.sendmail(self.envelope_from, [item.dest], raw)
        except aiosmtplib.SMTPRecipientsRefused:
            outcome = Outcome("failed", "recipient refused")
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx: permanent (RFC 5321 section 4.2.1); 4xx: try again later
            outcome = Outcome("failed" if exc.code >= 500 else "retry", f"SMTP {exc.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            outcome = Outcome("retry", type(exc).__name__)
        else:
            self._idle.append((time.monotonic(), client))
            return Outcome("sent")
        if client is not None:  # after a refusal, start the next message on a clean connection
            client.close()
        return outcome

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
