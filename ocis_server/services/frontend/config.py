"""Settings of the `frontend` (OCS) service, derived from the server config in one place."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class FrontendConfig:
    public_url: str                     # OCIS_URL without a trailing slash
    poll_interval: int = 60             # core.pollinterval (oCIS default)
    max_quota: int = 0                  # spaces.max_quota; 0 = no limit (no config field yet)
    support_url_signing: bool = True    # PROXY_ENABLE_PRESIGNEDURLS (cloud/user/signing-key)
    support_sse: bool = False           # core.support-sse: the sse service runs
    notifications: bool = False         # capability `notifications`: the userlog service runs
    blacklisted_files: tuple[str, ...] = (".htaccess",)
    checksum_types: tuple[str, ...] = ("sha1", "md5", "adler32")
    # Spelled as in OC-Checksum headers: the desktop engines match checksum names case-sensitively
    # (nextcloudcmd 3.7 takes "sha1" for unknown, then sees equal empty checksums and drops a
    # server edit that kept the mtime second).
    preferred_checksum: str = "SHA1"
    auto_accept_shares: bool = True     # files_sharing.auto_accept_share (FRONTEND_AUTO_ACCEPT_SHARES)
    public_password_enforced: bool = False             # OCIS_SHARING_PUBLIC_SHARE_MUST_HAVE_PASSWORD
    public_writeable_password_enforced: bool = False   # ..._WRITEABLE_SHARE_MUST_HAVE_PASSWORD
    previews: bool = True               # files.thumbnail.enabled (not OCIS_DISABLE_PREVIEWS)
    federation_outgoing: bool = False   # files_sharing.federation: OCM on and
    federation_incoming: bool = False   # FRONTEND_ENABLE_FEDERATED_SHARING_{OUTGOING,INCOMING}

    @property
    def hostname(self) -> str:
        """The host of the public URL, as status.php's `hostname` and OCS config's `host`."""
        return urlsplit(self.public_url).hostname or ""

    @property
    def host(self) -> str:
        """`host[:port]` without the scheme (reva#2692: the config endpoint's host has none)."""
        return urlsplit(self.public_url).netloc

    @property
    def ssl(self) -> bool:
        return urlsplit(self.public_url).scheme == "https"

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> FrontendConfig:
        config = ctx.config
        def runs(name: str) -> bool:
            return name not in config.exclude_run_services and (
                not config.run_services or name in config.run_services)
        return cls(public_url=ctx.public_url, support_sse=runs("sse"),
                   notifications=runs("userlog"),
                   support_url_signing=ctx.config.presigned_urls,
                   auto_accept_shares=ctx.config.sharing_auto_accept,
                   public_password_enforced=ctx.config.public_share_must_have_password,
                   public_writeable_password_enforced=(
                       ctx.config.public_writeable_share_must_have_password),
                   previews=not getattr(ctx.config, "disable_previews", False),
                   federation_outgoing=ctx.ocm is not None
                   and ctx.config.federated_sharing_outgoing,
                   federation_incoming=ctx.ocm is not None
                   and ctx.config.federated_sharing_incoming)


CONFIG_KEY = web.AppKey("frontend_config", FrontendConfig)
CONTEXT_KEY = web.AppKey("frontend_context", ServiceContext)
