"""The e-mail channel: one SMTP session, opened at the first send and reused for the rest of
a dispatcher run, closed by whoever created the channel (`close()`).

Each message carries a Message-ID derived from its idempotency key, so a receiver can drop
a copy that a crash between "sent" and "recorded" made the dispatcher send again. SMTP
answers map onto DeliveryError: 4xx replies, refused connections, disconnects and timeouts
are transient (retried with backoff); a 5xx reply to the message itself is permanent.
After any error the session is dropped, so the next send starts a fresh one."""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime

from notifications.channels import OutgoingMessage
from notifications.config import SmtpSettings
from notifications.errors import ConfigError, DeliveryError

MESSAGE_ID_DOMAIN = "decisionflow"


def message_id(idempotency_key: str) -> str:
    """The Message-ID of the delivery with this key: the same key, the same id."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    """The MIME message for one delivery: text and HTML alternatives, UTF-8 headers.
    Raises ValueError for a target or subject that cannot be a header (e.g. a newline)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.target
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.now)
    mail["Message-ID"] = message_id(message.idempotency_key)
    mail["X-Decisionflow-Key"] = message.idempotency_key
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to reminders
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


class _Session(smtplib.SMTP):
    """An SMTP client that remembers whether the server answered the current message's
    MAIL command. Until it has, the server holds nothing of the message, so sending it
    again on a new connection cannot deliver it twice."""

    mail_answered = False

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.mail_answered = False
        reply = super().mail(sender, options)
        self.mail_answered = True
        return reply


def _dropped_before_mail(exc: BaseException, session: _Session | None) -> bool:
    """The server had closed an idle session: the message's MAIL command found it gone,
    or was answered 421 (closing)."""
    if session is None:
        return False
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return not session.mail_answered
    return isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code == 421


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _delivery_error(exc: BaseException, *, connecting: bool) -> DeliveryError:
    """Map what smtplib raised onto a DeliveryError (Chinese first, English second).
    While connecting nothing is the message's fault, so every error there is transient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, raw = next(iter(exc.recipients.values()), (0, b""))
        return _reply_error(code, _reply_text(raw), connecting=connecting)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        return DeliveryError(f"SMTP 登录被拒绝（{reply}） / SMTP login refused ({reply})")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_error(exc.smtp_code, _reply_text(exc.smtp_error), connecting=connecting)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP 服务器断开了连接（{exc}） / the SMTP server disconnected ({exc})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"SMTP 服务器不支持所需扩展（{exc}） / the SMTP server lacks a needed extension ({exc})",
            permanent=not connecting,  # e.g. SMTPUTF8 for this message's address
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"SMTP 服务器证书未通过验证（{exc.verify_message}） / "
            f"the SMTP server's certificate failed verification ({exc.verify_message})"
        )
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"SMTP 连接超时（{exc}） / the SMTP connection timed out ({exc})")
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError(f"SMTP 服务器拒绝连接（{exc}） / the SMTP server refused the connection ({exc})")
    return DeliveryError(
        f"SMTP 错误（{type(exc).__name__}: {exc}） / SMTP failure ({type(exc).__name__}: {exc})"
    )


def _reply_error(code: int, text: str, *, connecting: bool) -> DeliveryError:
    reply = f"{code} {text}".strip()
    if 500 <= code < 600 and not connecting:
        return DeliveryError(
            f"SMTP 服务器永久拒收（{reply}） / the SMTP server rejected the message ({reply})",
            permanent=True,
        )
    return DeliveryError(f"SMTP 服务器暂时拒收（{reply}） / the SMTP server refused for now ({reply})")


class EmailChannel:
    """The Channel for e-mail. Not thread-safe: one channel per dispatcher thread.

    Construction validates the settings (password variable present, CA file readable) but
    opens no connection; the first `send` connects. `connections` counts the sessions opened."""

    name = "email"

    def __init__(self, settings: SmtpSettings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._password = settings.resolved_password(environ)
        if settings.username and self._password is None:
            field = (
                "notifications.smtp.password_env" if settings.password_env else "notifications.smtp.password"
            )
            raise ConfigError(
                field,
                f"设置了 SMTP 用户名但没有密码（环境变量 {settings.password_env or '-'}）",
                f"an SMTP username is set but no password (environment variable {settings.password_env or '-'})",
            )
        self._tls = self._tls_context() if settings.security == "starttls" else None
        self._smtp: _Session | None = None
        self.connections = 0

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        try:
            return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "notifications.smtp.ca_file",
                f"无法读取 CA 证书文件 {ca_file}：{exc}",
                f"cannot load the CA file {ca_file}: {exc}",
            ) from None

    def send(self, message: OutgoingMessage) -> None:
        try:
            mail = build_email(message, self.settings.sender)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(
                f"无法组成邮件（{exc}） / cannot build the e-mail ({exc})", permanent=True
            ) from exc
        for _ in range(2):  # a second go only when the server had dropped an idle session
            reused = self._smtp is not None
            try:
                session = self._session()
            except (smtplib.SMTPException, OSError) as exc:
                raise _delivery_error(exc, connecting=True) from exc
            try:
                session.send_message(mail, from_addr=self.settings.sender, to_addrs=[message.target])
                return
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                if reused and _dropped_before_mail(exc, session):
                    continue
                raise _delivery_error(exc, connecting=False) from exc
            except BaseException:
                self._drop()  # the session's state is unknown
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self) -> _Session:
        if self._smtp is not None:
            return self._smtp
        settings = self.settings
        # connects, and raises SMTPConnectError (closing the socket) unless greeted with 220
        smtp = _Session(settings.host, settings.port, timeout=settings.timeout_seconds)
        try:
            if self._tls is not None:
                smtp.ehlo()
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            if settings.username and self._password is not None:
                smtp.login(settings.username, self._password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        self.connections += 1
        return smtp

    def _drop(self) -> None:
        """Forget the session without a QUIT (after an error its state is unknown)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def close(self) -> None:
        """End the session politely (QUIT); the next send would open a new one."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the server went away first: nothing left to end
        finally:
            smtp.close()


Resolver = Callable[..., object]


def check_smtp_host(settings: SmtpSettings, resolve: Resolver = socket.getaddrinfo) -> None:
    """Fail at start-up, not at the first reminder, when the SMTP host name does not
    resolve. Looks the name up only; opens no connection."""
    try:
        resolve(settings.host, settings.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(
            "notifications.smtp.host",
            f"无法解析 SMTP 主机 {settings.host!r}（{exc}）",
            f"cannot resolve SMTP host {settings.host!r} ({exc})",
        ) from None
