"""Secrets Manager: ``GetSecretValue`` without a version reads ``AWSCURRENT``, as on AWS (moto 5.2 returns the
last version written). The DR database failover and the breach response's secret rotation rely on it."""
from __future__ import annotations



def install() -> None:
    """Patch moto's Secrets Manager backend (called once by :func:`opslib.sandbox.moto_gaps.install`)."""
    from moto.secretsmanager.models import SecretsManagerBackend

    get_secret_value = SecretsManagerBackend.get_secret_value

    def _get_secret_value(self, secret_id, version_id, version_stage):
        if not version_id and not version_stage:
            version_stage = "AWSCURRENT"
        return get_secret_value(self, secret_id, version_id, version_stage)

    SecretsManagerBackend.get_secret_value = _get_secret_value
