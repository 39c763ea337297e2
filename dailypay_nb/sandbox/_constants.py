"""Fixed names and values the sandbox shares between its modules (standard library only)."""

from __future__ import annotations

DEMO_CLIENT_ID = "dailypay-sandbox-client"
DEMO_CLIENT_SECRET = "sandbox-secret-not-for-production"
DEMO_SCOPES = "client:admin client:lookup health:read"

CLIENT_SCOPES = frozenset({"client:admin", "client:lookup", "health:read"})
USER_SCOPES = frozenset({"user:read", "user:read_write", "openid", "offline_access"})
KNOWN_SCOPES = CLIENT_SCOPES | USER_SCOPES

API_VERSION = "3.0.0"
HEADER_VERSION = "3"
JSONAPI = "application/vnd.api+json"
JSON = "application/json"
ERRORS_ABOUT = "https://developer.dailypay.com/tag/Errors"

TOKEN_PATH = "/oauth2/token"
ADMIN_PREFIX = "/_sandbox"
REST_PREFIX = "/rest"

SIZES = {"small": 8, "medium": 200, "large": 20_000}
