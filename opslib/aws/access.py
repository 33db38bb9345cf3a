"""Reads that could not see: credentials, access and connectivity failures.

Only observed facts fail a check. A call refused for credentials or permissions, or one that never
reached the endpoint, says nothing about the service it was meant to read: such a read is
``unknown`` (see :meth:`opslib.findings.Check.unknown`), with the error, never ``fail``."""
from __future__ import annotations

from botocore import exceptions as bce

#: Error codes AWS answers when the caller, not the resource, is the problem.
ACCESS_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "InvalidSignatureException", "ExpiredToken", "ExpiredTokenException", "RequestExpired", "AuthFailure",
    "MissingAuthenticationToken", "MissingAuthenticationTokenException", "NotAuthorized", "AccessDeniedFault",
})
_CREDENTIALS = tuple(getattr(bce, n) for n in (
    "NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "TokenRetrievalError",
    "SSOTokenLoadError", "UnauthorizedSSOTokenError", "NoAuthTokenError", "ProfileNotFound") if hasattr(bce, n))
_CONNECTIVITY = (bce.EndpointConnectionError, bce.ConnectTimeoutError, bce.ReadTimeoutError,
                 bce.ConnectionClosedError, ConnectionError, TimeoutError)


def blind_reason(exc: BaseException) -> str | None:
    """``"credentials"``, ``"access"`` or ``"connectivity"`` when ``exc`` means the read could not see;
    None when it is an answer about the resource (not found, throttled, a server error...)."""
    if isinstance(exc, _CREDENTIALS):
        return "credentials"
    if isinstance(exc, _CONNECTIVITY):
        return "connectivity"
    if isinstance(exc, bce.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if error.get("Code") in ACCESS_CODES or status == 403:
            return "access"
    return None


def describe(exc: BaseException) -> str:
    """``"could not read (access): ClientError: ..."``: what a check says when it could not see."""
    reason = blind_reason(exc) or "error"
    return f"could not read ({reason}): {type(exc).__name__}: {exc}"
