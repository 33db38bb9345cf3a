"""Certificate expiry (runbook "Certificate Renewal"), read from where the certificates live: ACM (the
certificates the load balancers' listeners serve), TLS handshakes with the profile's ``https://`` health
URLs (and any endpoint named), and local PEM files only when a path is named (``certificates.pem_paths``
of the profile or the notebook's ``pem_paths``); nothing else is looked for.

Each source gives :class:`CertStatus` rows; :func:`certificate_checks` turns them into findings with the
profile's thresholds (``certificates.warn_days``/``fail_days``: warn under 30 days, fail under 14). A
source that cannot be read (host unreachable, access denied) is an ``unknown`` finding: it says nothing about
the certificate, so the run exits 5 (could not see) unless something failed, instead of passing quietly.
:func:`renewal_plan` lists the runbook's renewal commands. Nothing here changes anything."""
from __future__ import annotations

import html
import shlex
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlsplit

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509

from ..aws import elb as elb_reads
from ..aws.arn import short_name
from ..errors import CertificateError, ParameterError
from ..findings import Check

if TYPE_CHECKING:
    from ..connection import Ops

WARN_DAYS = 30          # the runbook: "Renew certificate (30 days before expiry)"
FAIL_DAYS = 14


@dataclass(frozen=True)
class CertStatus:
    """One certificate's validity as seen from one source (``file``, ``endpoint`` or ``acm``).

    ``error`` with ``unknown``: the source could not be read (nothing is known about the certificate);
    ``error`` without: what was read is not a usable certificate (a fact, a failed check)."""
    kind: str
    source: str
    subject: str
    not_after: datetime | None
    days_left: float | None
    error: str | None = None
    arn: str | None = None
    acm_type: str | None = None          # IMPORTED or AMAZON_ISSUED
    unknown: bool = False
    used_by: tuple[str, ...] = ()        # load balancer listeners serving it

    def status(self, warn_days: int = WARN_DAYS, fail_days: int = FAIL_DAYS) -> str:
        """``ok``, ``warn`` (under ``warn_days``), ``fail`` (under ``fail_days``, expired, or not a
        certificate), or ``unknown`` (could not be read)."""
        if self.unknown:
            return "unknown"
        if self.error is not None or self.days_left is None:
            return "fail"
        if self.days_left <= 0 or self.days_left < fail_days:
            return "fail"
        return "warn" if self.days_left < warn_days else "ok"


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _days(not_after: datetime, now: datetime) -> float:
    return round((_utc(not_after) - _utc(now)).total_seconds() / 86400, 2)


def _subject(cert: x509.Certificate) -> str:
    try:
        cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        return cn[0].value if cn else cert.subject.rfc4514_string()
    except ValueError:
        return cert.subject.rfc4514_string()


def _from_cert(cert: x509.Certificate, kind: str, source: str, now: datetime) -> CertStatus:
    not_after = cert.not_valid_after_utc
    return CertStatus(kind, source, _subject(cert), not_after, _days(not_after, now))


def pem_expiry(path: str | Path, *, now: datetime) -> CertStatus:
    """``openssl x509 -enddate -noout -in PATH``: the first certificate of a PEM file."""
    p = Path(path)
    try:
        cert = x509.load_pem_x509_certificate(p.read_bytes())
    except OSError as exc:
        raise CertificateError(f"cannot read {p}: {exc.strerror or exc}", source=str(p)) from exc
    except ValueError as exc:
        raise CertificateError(f"{p} is not a PEM certificate: {exc}", source=str(p), unknown=False) from exc
    return _from_cert(cert, "file", str(p), now)


def endpoint_expiry(host: str, port: int = 443, *, now: datetime, timeout: float = 5,
                    server_name: str | None = None) -> CertStatus:
    """The certificate a TLS endpoint presents, read without verifying it (an expired or self-signed
    certificate must still be reported, not refused). Unreachable: a CertificateError (unknown)."""
    source = f"{host}:{port}"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                ctx.wrap_socket(sock, server_hostname=server_name or host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"cannot read the certificate of {source}: {exc}", source=source) from exc
    if not der:
        raise CertificateError(f"{source} presented no certificate", source=source)
    return _from_cert(x509.load_der_x509_certificate(der), "endpoint", source, now)


def parse_endpoint(text: str) -> tuple[str, int]:
    """``host[:port]`` (default port 443)."""
    host, _, port = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "443")
    try:
        return host, int(port)
    except ValueError as exc:
        raise ParameterError("tls_endpoints", text, "host[:port] with a numeric port") from exc


# -- what to read: the profile's sources and the notebook's parameters ---------------------------------
@dataclass(frozen=True)
class Settings:
    """The checked certificate parameters: thresholds and the sources named."""
    warn_days: int
    fail_days: int
    pem_paths: tuple[str, ...]
    endpoints: tuple[str, ...]


def _days_param(name: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError(name, value, f"None (the profile's certificates.{name}: {default}) or whole days >= 0")
    return value


def _paths_param(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, (str, Path)) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, (str, Path)) and str(v) for v in items):
        raise ParameterError(name, value, "None or a list of PEM file paths")
    return [str(v) for v in items]


def thresholds(profile: Any, *, warn_days: Any = None, fail_days: Any = None) -> tuple[int, int]:
    """(warn, fail) days: the parameters, None standing for the profile's ``certificates`` ones; fail at most
    warn. The maintenance notebook's ``check`` (``runbook run`` calls it before the kernel)."""
    cfg = profile.certificates
    warn = _days_param("warn_days", warn_days, cfg.warn_days)
    fail = _days_param("fail_days", fail_days, cfg.fail_days)
    if fail > warn:
        raise ParameterError("fail_days", fail, f"at most warn_days ({warn})")
    return warn, fail


def settings(profile: Any, *, pem_paths: Any = None, tls_endpoints: Any = (), warn_days: Any = None,
             fail_days: Any = None) -> Settings:
    """The notebook's certificate parameters checked before any read: thresholds (:func:`thresholds`),
    the PEM files named by ``certificates.pem_paths`` and ``pem_paths`` (each must exist: a named file that
    does not is a ParameterError naming it), and ``tls_endpoints`` (``host[:port]``)."""
    cfg = profile.certificates
    warn, fail = thresholds(profile, warn_days=warn_days, fail_days=fail_days)
    named = [("certificates.pem_paths", p) for p in _paths_param("certificates.pem_paths", list(cfg.pem_paths))]
    named += [("pem_paths", p) for p in _paths_param("pem_paths", pem_paths)]
    for param, path in named:
        if not Path(path).is_file():
            raise ParameterError(param, path, "paths of existing PEM certificate files (a named file is read; "
                                              "no other file is looked for)")
    if tls_endpoints is None:
        tls_endpoints = []
    if isinstance(tls_endpoints, str) or not isinstance(tls_endpoints, (list, tuple)):
        raise ParameterError("tls_endpoints", tls_endpoints, 'a list of "host[:port]" strings')
    endpoints = []
    for text in tls_endpoints:
        if not isinstance(text, str) or not text.strip():
            raise ParameterError("tls_endpoints", text, '"host[:port]"')
        host, port = parse_endpoint(text)
        endpoints.append(f"{host}:{port}")
    return Settings(warn, fail, tuple(dict.fromkeys(p for _, p in named)), tuple(dict.fromkeys(endpoints)))


def health_endpoints(ops: "Ops") -> list[str]:
    """``host:port`` of the profile's services whose health URL is ``https://`` (relative or ``http://``
    URLs have no certificate)."""
    out = []
    for svc in ops.profile.services:
        url = ops.health_url(svc.health_url)
        if not url or not url.lower().startswith("https://"):
            continue
        parts = urlsplit(url)
        if parts.hostname:
            out.append(f"{parts.hostname}:{parts.port or 443}")
    return list(dict.fromkeys(out))


def _listener_certificates(elbv2: Any) -> dict[str, list[str]]:
    """Certificate ARN -> the listeners serving it (``<load balancer>:<port>``), from every load balancer's
    listeners: their default certificate and, for HTTPS/TLS listeners, the SNI certificates too."""
    out: dict[str, list[str]] = {}
    for lb, listener, arns in elb_reads.listener_certificate_arns(elbv2):
        for arn in arns:
            out.setdefault(arn, []).append(f"{lb['LoadBalancerName']}:{listener.get('Port')}")
    return out


def _describe_acm(acm: Any, arn: str, now: datetime, used_by: tuple[str, ...]) -> CertStatus:
    source = f"acm:{short_name(arn)}"
    try:
        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except (ClientError, BotoCoreError) as exc:
        return CertStatus("acm", source, "", None, None, error=f"cannot describe {arn}: {exc}", arn=arn,
                          unknown=True, used_by=used_by)
    not_after = cert.get("NotAfter")
    return CertStatus("acm", source, cert["DomainName"], _utc(not_after) if not_after else None,
                      _days(not_after, now) if not_after else None,
                      error=None if not_after else f"status {cert.get('Status')}: no NotAfter",
                      arn=cert["CertificateArn"], acm_type=cert.get("Type"), used_by=used_by)


def listener_expiry(elbv2: Any, acm: Any, *, now: datetime, region: str | None = None) -> list[CertStatus]:
    """The certificates the load balancers' listeners serve, with ACM's NotAfter. A listener using an IAM
    server certificate is listed as unknown (ACM does not hold it); a failed read is one unknown row."""
    where = f" in {region}" if region else ""
    try:
        used = _listener_certificates(elbv2)
    except (ClientError, BotoCoreError) as exc:
        return [CertStatus("acm", f"load balancers{where}", "", None, None, unknown=True,
                           error=f"cannot read the load balancers' listeners{where}: {exc}")]
    out = []
    for arn, listeners in used.items():
        if ":acm:" in arn:
            out.append(_describe_acm(acm, arn, now, tuple(listeners)))
        else:
            out.append(CertStatus("acm", short_name(arn), "", None, None, arn=arn, unknown=True,
                                  used_by=tuple(listeners),
                                  error=f"{arn} is not an ACM certificate: read it with aws iam get-server-certificate"))
    return out


def _acm_expiry(acm: Any, *, now: datetime, domains: Iterable[str] | None = None) -> list[CertStatus]:
    """Every ACM certificate (or those for ``domains``) with its NotAfter."""
    wanted = set(domains or ())
    out = []
    try:
        for page in acm.get_paginator("list_certificates").paginate():
            for summary in page["CertificateSummaryList"]:
                if wanted and summary["DomainName"] not in wanted:
                    continue
                out.append(_describe_acm(acm, summary["CertificateArn"], now, ()))
    except (ClientError, BotoCoreError) as exc:
        raise CertificateError(f"cannot list ACM certificates: {exc}", source="acm") from exc
    return out


def collect(*, now: datetime, pem_paths: Iterable[str] = (), endpoints: Iterable[str] = (),
            acm: Any = None, domains: Iterable[str] | None = None, timeout: float = 5) -> list[CertStatus]:
    """Statuses from every source; a source that cannot be read is a row with its error."""
    rows: list[CertStatus] = []
    for path in pem_paths:
        try:
            rows.append(pem_expiry(path, now=now))
        except CertificateError as exc:
            rows.append(CertStatus("file", str(path), "", None, None, error=str(exc), unknown=exc.unknown))
    for text in endpoints:
        try:
            host, port = parse_endpoint(text)
            rows.append(endpoint_expiry(host, port, now=now, timeout=timeout))
        except CertificateError as exc:
            rows.append(CertStatus("endpoint", text, "", None, None, error=str(exc), unknown=exc.unknown))
    if acm is not None:
        try:
            rows.extend(_acm_expiry(acm, now=now, domains=domains))
        except CertificateError as exc:
            rows.append(CertStatus("acm", "acm", "", None, None, error=str(exc), unknown=True))
    return rows


def profile_statuses(ops: "Ops", cfg: Settings, *, now: datetime, timeout: float = 5) -> list[CertStatus]:
    """Every certificate of the pipeline: the load balancers' listener certificates of each region (ACM),
    the TLS endpoints of the https health URLs plus ``cfg.endpoints``, and the PEM files ``cfg`` names."""
    rows = collect(now=now, pem_paths=cfg.pem_paths,
                   endpoints=list(dict.fromkeys(health_endpoints(ops) + list(cfg.endpoints))), timeout=timeout)
    for region in ops.sides:
        rows += listener_expiry(ops.client("elbv2", region), ops.client("acm", region), now=now,
                                region=ops.region(region))
    return rows


def frame(statuses: list[CertStatus], warn_days: int = WARN_DAYS, fail_days: int = FAIL_DAYS) -> pd.DataFrame:
    cols = ["kind", "source", "subject", "not_after", "days_left", "status", "used_by", "error"]
    return pd.DataFrame([{"kind": s.kind, "source": s.source, "subject": s.subject, "not_after": s.not_after,
                          "days_left": s.days_left, "status": s.status(warn_days, fail_days),
                          "used_by": ", ".join(s.used_by), "error": s.error or ""}
                         for s in statuses], columns=cols)


def certificate_checks(statuses: list[CertStatus], *, warn_days: int = WARN_DAYS,
                       fail_days: int = FAIL_DAYS) -> list[Check]:
    """One check per certificate: ok; warn under ``warn_days`` days; unknown when it could not be read; fail
    under ``fail_days``, expired, or not a certificate."""
    if not statuses:
        return [Check.warn("certificates", "no certificate found: no load balancer listener serves one, no "
                                           "https health URL, no PEM file named")]
    checks = []
    for s in statuses:
        name = f"certificate {s.kind} {s.source}"
        status = s.status(warn_days, fail_days)
        served = f" (served by {', '.join(s.used_by)})" if s.used_by else ""
        figures = {"days_left": s.days_left, "not_after": s.not_after, "subject": s.subject, "arn": s.arn,
                   "used_by": list(s.used_by)}
        if status == "unknown":
            checks.append(Check.unknown(name, f"unknown (not measurable): {s.error}{served}", **figures))
            continue
        if s.error:
            detail = s.error
        elif s.days_left <= 0:
            detail = f"{s.subject}: EXPIRED on {s.not_after:%Y-%m-%d %H:%M} UTC ({-s.days_left:.1f} days ago)"
        else:
            detail = (f"{s.subject}: expires {s.not_after:%Y-%m-%d} ({s.days_left:.1f} days left; renew at "
                      f"{warn_days} days, fails under {fail_days})")
        checks.append(Check(name, status, detail + served, figures))
    return checks


# -- renewal: the runbook's commands, as a plan to review ----------------------------------------------
@dataclass(frozen=True)
class RenewalStep:
    certificate: str
    why: str
    commands: list[str]


@dataclass
class RenewalPlan:
    """The runbook's renewal commands for the certificates that need them; run by a human (certbot and
    the private key live on the web host, not here)."""
    steps: list[RenewalStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def to_text(self) -> str:
        if not self.steps:
            return "Renewal plan: nothing to renew"
        lines = [f"Renewal plan ({len(self.steps)} certificate{'s' if len(self.steps) != 1 else ''}):"]
        for i, s in enumerate(self.steps, 1):
            lines.append(f"  {i}. {s.certificate}: {s.why}")
            lines += [f"       $ {c}" for c in s.commands]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])

    __str__ = to_text

    def _repr_html_(self) -> str:
        if not self.steps:
            return "<p><b>Renewal plan:</b> nothing to renew.</p>"
        items = "".join(f"<li><b>{html.escape(s.certificate)}</b>: {html.escape(s.why)}<pre>"
                        + html.escape("\n".join(s.commands)) + "</pre></li>" for s in self.steps)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return f"<div class='opslib-plan'><h4>Renewal plan</h4><ol>{items}</ol>" + \
            (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "") + "</div>"


def listeners_using(elbv2: Any, certificate_arn: str) -> list[str]:
    """ARNs of the load balancer listeners that serve ``certificate_arn``."""
    return [listener["ListenerArn"] for _, listener, arns in elb_reads.listener_certificate_arns(elbv2)
            if certificate_arn in arns]


def renewal_plan(statuses: list[CertStatus], *, warn_days: int = WARN_DAYS, fail_days: int = FAIL_DAYS,
                 ops: "Ops | None" = None, region: str | None = None) -> RenewalPlan:
    """The runbook's commands for every certificate under ``warn_days`` days (or expired). With ``ops``, the
    imported certificates' listeners are looked up in its primary region (``region``: the one the commands name,
    by default that region)."""
    plan = RenewalPlan()
    elbv2 = ops.client("elbv2") if ops is not None else None
    region = region or (ops.primary_region if ops is not None else None)
    reg = f" --region {shlex.quote(region)}" if region else ""
    for s in statuses:
        if s.status(warn_days, fail_days) in ("ok", "unknown") or s.error:
            continue
        why = "expired" if s.days_left <= 0 else f"{s.days_left:.0f} days left (< {warn_days})"
        if s.kind == "acm" and s.acm_type == "AMAZON_ISSUED":
            cmds = [f"aws acm renew-certificate --certificate-arn {shlex.quote(s.arn)}{reg}"]
        elif s.kind == "acm":
            cmds = ["certbot renew --nginx",
                    f"aws acm import-certificate --certificate-arn {shlex.quote(s.arn)} "
                    f"--certificate fileb:///etc/letsencrypt/live/{s.subject}/cert.pem "
                    f"--private-key fileb:///etc/letsencrypt/live/{s.subject}/privkey.pem "
                    f"--certificate-chain fileb:///etc/letsencrypt/live/{s.subject}/chain.pem{reg}"]
            listeners = listeners_using(elbv2, s.arn) if elbv2 is not None and s.arn else []
            for arn in listeners or ["<listener-arn>"]:
                cmds.append(f"aws elbv2 add-listener-certificates --listener-arn {shlex.quote(arn)} "
                            f"--certificates CertificateArn={shlex.quote(s.arn)}{reg}")
            if elbv2 is not None and not listeners:
                plan.notes.append(f"no load balancer listener serves {s.arn}; the add-listener-certificates "
                                  "line needs the listener's ARN")
        elif s.kind == "file":
            cmds = [f"openssl x509 -enddate -noout -in {shlex.quote(s.source)}", "certbot renew --nginx",
                    f"openssl x509 -enddate -noout -in {shlex.quote(s.source)}  # check the new end date"]
        else:                 # an endpoint: renew on the host serving it, then look again through TLS
            cmds = ["certbot renew --nginx  # on the host serving " + s.source,
                    f"openssl s_client -connect {shlex.quote(s.source)} -servername "
                    f"{shlex.quote(s.source.rsplit(':', 1)[0])} </dev/null | openssl x509 -enddate -noout"]
        plan.steps.append(RenewalStep(f"{s.kind} {s.source} ({s.subject})", why, cmds))
    if plan.steps:
        plan.notes.append("imported certificates cannot be renewed by ACM: renew with certbot, re-import under "
                          "the same ARN (listeners keep using it), then check the new expiry here")
    return plan
