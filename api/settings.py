"""Server settings read from ``CITYNAV_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def normalize_origin(origin: str) -> str:
    """Return ``origin`` in the form browsers send in the ``Origin`` header.

    Input: ``scheme://host[:port]`` (a trailing slash is dropped; scheme and host are
    lower-cased), or ``*`` for any origin. Raises ``ValueError`` for anything else (a path, a
    query, a missing scheme), because such a value could never match a browser's ``Origin``.
    """
    text = origin.strip()
    if text == "*":
        return text
    parts = urlsplit(text)
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.username or parts.password):
        raise ValueError(f"CORS origin {origin!r} is not of the form scheme://host[:port]")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"CORS origin {origin!r} has an invalid port") from exc
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def parse_origins(values: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Normalised, de-duplicated origins from a comma-separated string or a list of them."""
    if values is None:
        return []
    items = values.split(",") if isinstance(values, str) else \
        [part for v in values for part in v.split(",")]
    out: list[str] = []
    for item in items:
        if item.strip() and (o := normalize_origin(item)) not in out:
            out.append(o)
    return out


class Settings(BaseSettings):
    """Process-wide settings; each field is read from ``CITYNAV_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CITYNAV_", extra="ignore")

    cors_origins: Annotated[list[str], NoDecode] = []
    """Browser origins (``scheme://host[:port]``, comma-separated; ``*`` for any) allowed to
    call the API cross-origin. Empty (the default): same-origin only, no CORS headers."""

    webhook_backoff_s: float = 2.0
    """Webhooks: seconds before the first retry of a failed delivery (doubling, ±20 %)."""
    webhook_max_backoff_s: float = 3600.0
    """Webhooks: longest wait between two attempts."""
    webhook_max_attempts: int = 12
    """Webhooks: failed attempts of one delivery after which its subscription is paused."""
    webhook_timeout_s: float = 10.0
    """Webhooks: seconds an endpoint has to answer one delivery."""
    webhook_allow_private: bool = False
    """Webhooks: allow URLs on this machine or private networks (off: no key holder can make
    the server call into its own network)."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> list[str]:
        if isinstance(value, str | list | tuple):
            return parse_origins(value)
        raise ValueError("cors_origins must be a comma-separated string or a list")

    feed_publisher: str = "citynav"
    """Publisher named in the open feeds (WZDx ``feed_info.publisher``, DATEX II
    ``publicationCreator``, the congestion map's ``feed_info``)."""

    feed_contact_email: str | None = None
    """Contact e-mail address given in the WZDx feed (optional)."""

    feed_country: str = "US"
    """ISO 3166-1 country code of the DATEX II ``publicationCreator``."""

    feed_license: str = "https://creativecommons.org/publicdomain/zero/1.0/"
    """Licence URL of the open feeds (WZDx requires CC0 1.0; the road geometry and street
    names come from OpenStreetMap, © OpenStreetMap contributors, ODbL)."""
