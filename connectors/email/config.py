"""The email connector's settings, read once from the environment (`Settings.env`).

Every variable is checked here, so a connector that starts has usable settings; a missing
or invalid one raises `ConfigurationError` naming the variable and what a valid value looks
like. Passwords are `Secret`s: never printed. IMAP polling is configured only when
`ACOLHE_EMAIL_IMAP_HOST` is set (offices whose mail arrives by SMTP need none of it). The
connector listens twice: SMTP for the mail (`ACOLHE_EMAIL_SMTP_HOST`, `_PORT`) and HTTP for
/healthz and /metrics (`ACOLHE_EMAIL_HTTP_HOST`, `_PORT`).

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from connectors.common import config as read
from connectors.email.compose import OfficeMailbox
from connectors.email.mime import DEFAULT_LIMITS, MailLimits
from streams.shared.errors import ConfigurationError
from streams.shared.settings import Secret

DEFAULT_SMTP_HOST: Final = "127.0.0.1"
DEFAULT_SMTP_PORT: Final = 2525
DEFAULT_HTTP_HOST: Final = "127.0.0.1"
DEFAULT_HTTP_PORT: Final = 8082  # beside WhatsApp's 8081, the web chat's 8083, the gateway's 8084
DEFAULT_RELAY_PORT: Final = 587
DEFAULT_IMAP_FOLDER: Final = "INBOX"
DEFAULT_POLL_SECONDS: Final = 30
DEFAULT_TIMEOUT_SECONDS: Final = 30
DEFAULT_ACCEPT_SECONDS: Final = 30
DEFAULT_CONCURRENT_MAILS: Final = 4
DEFAULT_SMTP_CONNECTIONS: Final = 100
DEFAULT_SMTP_CONNECTIONS_PER_CLIENT: Final = 10  # Postfix's smtpd_client_connection_count_limit
_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)
_HOST: Final = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class RelaySettings:
    """The SMTP relay (submission server) the office's replies go out through."""

    host: str
    port: int = DEFAULT_RELAY_PORT
    starttls: bool = True
    username: str | None = None
    password: Secret | None = None
    timeout_s: int = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class ImapSettings:
    """A mailbox to poll, for offices whose mail lands in a hosted mailbox."""

    host: str
    username: str
    password: Secret
    mailbox: str
    """The office address this IMAP mailbox receives (the events' `channel_account_id`)."""
    port: int = 993
    use_ssl: bool = True
    folder: str = DEFAULT_IMAP_FOLDER
    poll_interval_s: int = DEFAULT_POLL_SECONDS
    timeout_s: int = DEFAULT_TIMEOUT_SECONDS
    batch: int = 50


@dataclass(frozen=True)
class EmailSettings:
    mailboxes: tuple[str, ...]
    """The office's addresses (lowercase): the only recipients the listener takes mail for;
    the first sends the replies that name none."""
    relay: RelaySettings
    domain: str = ""
    """The office's mail domain: names the listener (EHLO, banner) and our Message-IDs."""
    display_name: str | None = None
    default_subject: str = "Atendimento"
    smtp_host: str = DEFAULT_SMTP_HOST
    smtp_port: int = DEFAULT_SMTP_PORT
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int = DEFAULT_HTTP_PORT
    """Where /healthz and Prometheus /metrics are served: the connector's HTTP face, no
    other route."""
    limits: MailLimits = DEFAULT_LIMITS
    """Per mail: `max_raw_bytes` is also the SIZE the listener advertises and enforces."""
    imap: ImapSettings | None = None
    media_dir: Path = Path(".acolhe/media")
    accept_timeout_s: int = DEFAULT_ACCEPT_SECONDS
    """How long one mail may take to become durable before the sender is told to retry."""
    max_concurrent_mails: int = DEFAULT_CONCURRENT_MAILS
    """Mails parsed and published at once (bounds the memory: each holds its raw bytes)."""
    smtp_max_connections: int = DEFAULT_SMTP_CONNECTIONS
    """SMTP sessions open at once, from everyone: each may buffer a DATA body up to
    `max_message_bytes`, so this times that bounds the listener's memory."""
    smtp_max_connections_per_client: int = DEFAULT_SMTP_CONNECTIONS_PER_CLIENT
    """SMTP sessions open at once from one client address, so one host cannot take every
    place of `smtp_max_connections`."""

    def __post_init__(self) -> None:
        if not self.domain:
            object.__setattr__(self, "domain", self.mailboxes[0].rpartition("@")[2])

    @property
    def max_message_bytes(self) -> int:
        return self.limits.max_raw_bytes

    def is_office_mailbox(self, address: str) -> bool:
        return address.strip().lower() in self.mailboxes

    def office_mailbox(self, address: str | None = None) -> OfficeMailbox:
        """The mailbox a reply goes out from: `address` when it is one of ours (else
        the first)."""
        chosen = address.strip().lower() if address else self.mailboxes[0]
        return OfficeMailbox(
            address=chosen,
            display_name=self.display_name,
            default_subject=self.default_subject,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, state_dir: Path) -> EmailSettings:
        """The settings from `env`; `state_dir` holds the media when no directory is set."""
        mailboxes = tuple(
            dict.fromkeys(a.lower() for a in read.names(env, "ACOLHE_EMAIL_MAILBOXES"))
        )
        if not mailboxes:
            raise ConfigurationError(
                "ACOLHE_EMAIL_MAILBOXES is required: the office's addresses that receive "
                "citizens' mail, comma-separated (e.g. atendimento@defensoria.sp.def.br)"
            )
        wrong = [a for a in mailboxes if not _ADDRESS.fullmatch(a)]
        if wrong:
            raise ConfigurationError(
                "ACOLHE_EMAIL_MAILBOXES must list plain addresses such as "
                f"atendimento@defensoria.sp.def.br, got {len(wrong)} that are not"
            )
        domain = env.get("ACOLHE_EMAIL_DOMAIN", "").strip().lower()
        if domain and not _host(domain):
            raise ConfigurationError(
                f"ACOLHE_EMAIL_DOMAIN must be a domain such as defensoria.sp.def.br, got {domain!r}"
            )
        smtp_port = read.port(env, "ACOLHE_EMAIL_SMTP_PORT", DEFAULT_SMTP_PORT)
        http_port = read.port(env, "ACOLHE_EMAIL_HTTP_PORT", DEFAULT_HTTP_PORT)
        if http_port and http_port == smtp_port:
            raise ConfigurationError(
                f"ACOLHE_EMAIL_HTTP_PORT must differ from ACOLHE_EMAIL_SMTP_PORT ({smtp_port}): "
                "/healthz and /metrics need a port of their own"
            )
        limits = MailLimits(
            max_raw_bytes=read.positive_int(
                env, "ACOLHE_EMAIL_MAX_MESSAGE_BYTES", DEFAULT_LIMITS.max_raw_bytes
            ),
            max_parts=read.positive_int(env, "ACOLHE_EMAIL_MAX_PARTS", DEFAULT_LIMITS.max_parts),
            max_depth=read.positive_int(env, "ACOLHE_EMAIL_MAX_DEPTH", DEFAULT_LIMITS.max_depth),
            max_attachments=read.positive_int(
                env, "ACOLHE_EMAIL_MAX_ATTACHMENTS", DEFAULT_LIMITS.max_attachments
            ),
            max_attachment_bytes=read.positive_int(
                env, "ACOLHE_EMAIL_MAX_ATTACHMENT_BYTES", DEFAULT_LIMITS.max_attachment_bytes
            ),
        )
        return cls(
            mailboxes=mailboxes,
            relay=_relay(env),
            domain=domain,
            display_name=env.get("ACOLHE_EMAIL_DISPLAY_NAME", "").strip() or None,
            default_subject=env.get("ACOLHE_EMAIL_DEFAULT_SUBJECT", "").strip() or "Atendimento",
            smtp_host=env.get("ACOLHE_EMAIL_SMTP_HOST", "").strip() or DEFAULT_SMTP_HOST,
            smtp_port=smtp_port,
            http_host=env.get("ACOLHE_EMAIL_HTTP_HOST", "").strip() or DEFAULT_HTTP_HOST,
            http_port=http_port,
            limits=limits,
            imap=_imap(env, mailboxes),
            media_dir=read.directory(env, "ACOLHE_EMAIL_MEDIA_DIR", state_dir / "media"),
            accept_timeout_s=read.positive_int(
                env, "ACOLHE_EMAIL_ACCEPT_TIMEOUT_SECONDS", DEFAULT_ACCEPT_SECONDS
            ),
            max_concurrent_mails=read.positive_int(
                env, "ACOLHE_EMAIL_MAX_CONCURRENT_MAILS", DEFAULT_CONCURRENT_MAILS
            ),
            smtp_max_connections=read.positive_int(
                env, "ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS", DEFAULT_SMTP_CONNECTIONS
            ),
            smtp_max_connections_per_client=read.positive_int(
                env,
                "ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT",
                DEFAULT_SMTP_CONNECTIONS_PER_CLIENT,
            ),
        )


def _relay(env: Mapping[str, str]) -> RelaySettings:
    host = read.required(
        env, "ACOLHE_EMAIL_RELAY_HOST", "the SMTP relay the office's replies go out through"
    )
    if not _host(host):
        raise ConfigurationError(f"ACOLHE_EMAIL_RELAY_HOST must be a host name, got {host!r}")
    starttls = flag(env, "ACOLHE_EMAIL_RELAY_STARTTLS", default=True)
    username = env.get("ACOLHE_EMAIL_RELAY_USERNAME", "").strip() or None
    password = None
    if username:
        password = read.secret(
            env, "ACOLHE_EMAIL_RELAY_PASSWORD", "the relay password of ACOLHE_EMAIL_RELAY_USERNAME"
        )
        if not starttls:
            raise ConfigurationError(
                "ACOLHE_EMAIL_RELAY_STARTTLS must be on when ACOLHE_EMAIL_RELAY_USERNAME is "
                "set: the relay password must not cross the network in clear"
            )
    return RelaySettings(
        host=host,
        port=read.port(env, "ACOLHE_EMAIL_RELAY_PORT", DEFAULT_RELAY_PORT),
        starttls=starttls,
        username=username,
        password=password,
        timeout_s=read.positive_int(
            env, "ACOLHE_EMAIL_RELAY_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS
        ),
    )


def _imap(env: Mapping[str, str], mailboxes: tuple[str, ...]) -> ImapSettings | None:
    host = env.get("ACOLHE_EMAIL_IMAP_HOST", "").strip()
    if not host:
        return None
    if not _host(host):
        raise ConfigurationError(f"ACOLHE_EMAIL_IMAP_HOST must be a host name, got {host!r}")
    use_ssl = flag(env, "ACOLHE_EMAIL_IMAP_SSL", default=True)
    mailbox = env.get("ACOLHE_EMAIL_IMAP_MAILBOX", "").strip().lower() or mailboxes[0]
    if mailbox not in mailboxes:
        raise ConfigurationError(
            "ACOLHE_EMAIL_IMAP_MAILBOX must be one of ACOLHE_EMAIL_MAILBOXES (the office "
            f"address the polled mailbox receives), got {mailbox!r}"
        )
    folder = env.get("ACOLHE_EMAIL_IMAP_FOLDER", "").strip() or DEFAULT_IMAP_FOLDER
    if not folder.isprintable() or '"' in folder or "\\" in folder:
        raise ConfigurationError(
            f"ACOLHE_EMAIL_IMAP_FOLDER must be a folder name such as INBOX, got {folder!r}"
        )
    return ImapSettings(
        host=host,
        port=read.port(env, "ACOLHE_EMAIL_IMAP_PORT", 993 if use_ssl else 143),
        use_ssl=use_ssl,
        username=read.required(env, "ACOLHE_EMAIL_IMAP_USERNAME", "the IMAP login of the mailbox"),
        password=read.secret(env, "ACOLHE_EMAIL_IMAP_PASSWORD", "the IMAP password of the mailbox"),
        mailbox=mailbox,
        folder=folder,
        poll_interval_s=read.positive_int(
            env, "ACOLHE_EMAIL_IMAP_POLL_SECONDS", DEFAULT_POLL_SECONDS
        ),
        timeout_s=read.positive_int(
            env, "ACOLHE_EMAIL_IMAP_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS
        ),
    )


def flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _host(value: str) -> bool:
    return bool(_HOST.fullmatch(value))
