"""Per-token rate limits (CSMS_API_RATE): a partner's burst slows that partner only, and its 429
says when to come back (Retry-After)."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    """Counts each API token's requests (a session-authenticated user's by user); shared by every node
    through the "api" cache (Redis when REDIS_URL is set). Anonymous requests are refused by
    authentication, not counted here."""

    scope = "token"

    def __init__(self):
        self.cache = caches["api"]
        super().__init__()

    def allow_request(self, request, view):
        # Counting must never take the API down with it: while Redis is away, requests go through
        # uncounted (the stations this node holds stay reachable, ADR 0080).
        try:
            return super().allow_request(request, view)
        except Exception as exc:
            logger.warning("API rate limit not counted: %s", exc)
            return True

    def get_rate(self):
        return settings.CSMS_API_RATE or None

    def get_cache_key(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            return None
        token = getattr(request.auth, "key", None)
        ident = hashlib.sha256(token.encode()).hexdigest()[:32] if token else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
