"""Certificate expiry (runbook "Certificate Renewal"): a PEM file, a TLS endpoint, ACM certificates.

Each source gives :class:`CertStatus` rows; :func:`certificate_checks` turns them into findings
(warn under ``warn_days`` days, fail when expired); :func:`renewal_plan` lists the runbook's renewal
commands for the certificates that need it. Nothing here changes anything."""
from __future__ import annotations

import html
import shlex
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509

from .errors import OpsError
from .findings import Check

WARN_DAYS = 30          # the runbook: "Renew certificate (30 days before expiry)"
RUNBOOK_PEM = "/etc/ssl/certs/api.crt"


class CertificateError(OpsError):
    """A certificate could not be read (missing file, bad PEM, endpoint unreachable)."""

    def __init__(self, message: str, *, source: str):
        self.source = source
        super().__init__(message)


@dataclass(frozen=True)
class CertStatus:
    """One certificate's validity as seen from one source (``file``, ``endpoint`` or ``acm``)."""
    kind: str
    source: str
    subject: str
    not_after: datetime | None
    days_left: float | None
    error: str | None = None
    arn: str | None = None
    acm_type: str | None = None          # IMPORTED or AMAZON_ISSUED

    def status(self, warn_days: int = WARN_DAYS) -> str:
        if self.error is not None or self.days_left is None:
            return "fail"
        if self.days_left <= 0:
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
        raise CertificateError(f"{p} is not a PEM certificate: {exc}", source=str(p)) from exc
    return _from_cert(cert, "file", str(p), now)


def endpoint_expiry(host: str, port: int = 443, *, now: datetime, timeout: float = 5,
                    server_name: str | None = None) -> CertStatus:
    """The certificate a TLS endpoint presents, read without verifying it (an expired or self-signed
    certificate must still be reported, not refused)."""
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


def default_pem_paths(ops) -> list[str]:
    """The API certificate file: the sandbox's copy under its folder, else the runbook's path."""
    if getattr(ops, "sandbox", None) is not None:
        return [str(Path(ops.sandbox.dir) / "certs" / "api.crt")]
    return [RUNBOOK_PEM]


def parse_endpoint(text: str) -> tuple[str, int]:
    """``host[:port]`` (default port 443)."""
    host, _, port = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "443")
    try:
        return host, int(port)
    except ValueError as exc:
        raise CertificateError(f"endpoint {text!r}: the port must be a number", source=text) from exc


def acm_expiry(acm: Any, *, now: datetime, domains: Iterable[str] | None = None) -> list[CertStatus]:
    """Every ACM certificate (or those for ``domains``) with its NotAfter."""
    wanted = set(domains or ())
    out = []
    try:
        for page in acm.get_paginator("list_certificates").paginate():
            for summary in page["CertificateSummaryList"]:
                if wanted and summary["DomainName"] not in wanted:
                    continue
                cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
                not_after = cert.get("NotAfter")
                out.append(CertStatus(
                    "acm", f"acm:{summary['CertificateArn'].rsplit('/', 1)[-1]}", cert["DomainName"],
                    _utc(not_after) if not_after else None, _days(not_after, now) if not_after else None,
                    error=None if not_after else f"status {cert.get('Status')}: no NotAfter",
                    arn=cert["CertificateArn"], acm_type=cert.get("Type")))
    except (ClientError, BotoCoreError) as exc:
        raise CertificateError(f"cannot list ACM certificates: {exc}", source="acm") from exc
    return out


def collect(*, now: datetime, pem_paths: Iterable[str] = (), endpoints: Iterable[str] = (),
            acm: Any = None, domains: Iterable[str] | None = None) -> list[CertStatus]:
    """Statuses from every source; a source that cannot be read is a row with its error (a failed check)."""
    rows: list[CertStatus] = []
    for path in pem_paths:
        try:
            rows.append(pem_expiry(path, now=now))
        except CertificateError as exc:
            rows.append(CertStatus("file", str(path), "", None, None, error=str(exc)))
    for text in endpoints:
        try:
            host, port = parse_endpoint(text)
            rows.append(endpoint_expiry(host, port, now=now))
        except CertificateError as exc:
            rows.append(CertStatus("endpoint", text, "", None, None, error=str(exc)))
    if acm is not None:
        try:
            rows.extend(acm_expiry(acm, now=now, domains=domains))
        except CertificateError as exc:
            rows.append(CertStatus("acm", "acm", "", None, None, error=str(exc)))
    return rows


def frame(statuses: list[CertStatus], warn_days: int = WARN_DAYS) -> pd.DataFrame:
    cols = ["kind", "source", "subject", "not_after", "days_left", "status", "error"]
    return pd.DataFrame([{"kind": s.kind, "source": s.source, "subject": s.subject, "not_after": s.not_after,
                          "days_left": s.days_left, "status": s.status(warn_days), "error": s.error or ""}
                         for s in statuses], columns=cols)


def certificate_checks(statuses: list[CertStatus], *, warn_days: int = WARN_DAYS) -> list[Check]:
    """One check per certificate: ok, warn under ``warn_days`` days, fail when expired or unreadable."""
    if not statuses:
        return [Check.warn("certificates", "no certificate source configured (PEM files, endpoints, ACM)")]
    checks = []
    for s in statuses:
        name = f"certificate {s.kind} {s.source}"
        status = s.status(warn_days)
        if s.error:
            detail = s.error
        elif s.days_left <= 0:
            detail = f"{s.subject}: EXPIRED on {s.not_after:%Y-%m-%d %H:%M} UTC ({-s.days_left:.1f} days ago)"
        else:
            detail = (f"{s.subject}: expires {s.not_after:%Y-%m-%d} ({s.days_left:.1f} days left; renew at "
                      f"{warn_days} days)")
        checks.append(Check(name, status, detail, {"days_left": s.days_left, "not_after": s.not_after}))
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
    out = []
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            for lpage in elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb["LoadBalancerArn"]):
                for listener in lpage["Listeners"]:
                    certs = [c["CertificateArn"] for c in listener.get("Certificates", [])]
                    if certificate_arn in certs:
                        out.append(listener["ListenerArn"])
    return out


def renewal_plan(statuses: list[CertStatus], *, warn_days: int = WARN_DAYS, elbv2: Any = None,
                 region: str | None = None) -> RenewalPlan:
    """The runbook's commands for every certificate under ``warn_days`` days (or expired)."""
    plan = RenewalPlan()
    reg = f" --region {shlex.quote(region)}" if region else ""
    for s in statuses:
        if s.status(warn_days) == "ok" or s.error:
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
            listeners = listeners_using(elbv2, s.arn) if elbv2 is not None else []
            for arn in listeners or ["<listener-arn>"]:
                cmds.append(f"aws elbv2 add-listener-certificates --listener-arn {shlex.quote(arn)} "
                            f"--certificates CertificateArn={shlex.quote(s.arn)}{reg}")
            if elbv2 is not None and not listeners:
                plan.notes.append(f"no load balancer listener serves {s.arn}; the add-listener-certificates "
                                  "line needs the listener's ARN")
        else:
            target = s.source if s.kind == "file" else RUNBOOK_PEM
            cmds = [f"openssl x509 -enddate -noout -in {shlex.quote(target)}", "certbot renew --nginx",
                    f"openssl x509 -enddate -noout -in {shlex.quote(target)}  # check the new end date"]
        plan.steps.append(RenewalStep(f"{s.kind} {s.source} ({s.subject})", why, cmds))
    if plan.steps:
        plan.notes.append("imported certificates cannot be renewed by ACM: renew with certbot, re-import under "
                          "the same ARN (listeners keep using it), then check the new expiry here")
    return plan
