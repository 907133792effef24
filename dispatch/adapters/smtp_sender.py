"""E-mail over SMTP with aiosmtplib: plain text and HTML (multipart/
alternative), a List-Unsubscribe header (RFC 2369) pointing at the
notification settings, and a Message-ID made from the outbox row's ext_id,
unique per message and recipient and the same on every retry, so a relay
or a mailbox that saw it already can drop the copy (RFC 5322 section 3.6.4)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from dispatch.core.out_texts import email_html
from dispatch.core.outbox import OutboxItem, Outcome


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
        self.domain = sender.rpartition("@")[2].strip(">") or "localhost"

    def message(self, item: OutboxItem) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = item.dest
        msg["Subject"] = item.subject
        msg["Date"] = formatdate(item.created_at.timestamp(), usegmt=True)
        msg["Message-ID"] = f"<{item.ext_id}@{self.domain}>"
        msg["List-Unsubscribe"] = f"<{self.unsubscribe_url}>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(item.body)
        msg.add_alternative(email_html(item.subject, item.body, self.unsubscribe_url), subtype="html")
        return msg

    async def send(self, item: OutboxItem) -> Outcome:
        """One connection per message: simple and robust against a relay that
        drops idle connections; the worker runs many sends at once."""
        try:
            await aiosmtplib.send(
                self.message(item),
                hostname=self.host,
                port=self.port,
                username=self.user,
                password=self.password,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                tls_context=ssl.create_default_context() if self.tls != "none" else None,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            return Outcome("failed", "recipient refused")
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx: permanent (RFC 5321 section 4.2.1); 4xx: try again later
            return Outcome("failed" if exc.code >= 500 else "retry", f"SMTP {exc.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Outcome("retry", type(exc).__name__)
        return Outcome("sent")

    async def close(self) -> None:
        return None
