"""RDS: ``PromoteReadReplica`` makes the replica a standalone instance, as on AWS (moto 5.2 keeps its source).
The DR database failover relies on it."""
from __future__ import annotations



def install() -> None:
    """Patch moto's RDS backend (called once by :func:`opslib.sandbox.moto_gaps.install`)."""
    from moto.rds.models import RDSBackend

    promote = RDSBackend.promote_read_replica

    def _promote_read_replica(self, db_kwargs):
        database = self.databases[db_kwargs["db_instance_identifier"]]
        source_id = database.source_db_instance_identifier
        database = promote(self, db_kwargs)
        if source_id:
            source = self.find_db_from_id(source_id)
            if database.db_instance_identifier in source.replicas:
                source.remove_replica(database)
            database.source_db_instance_identifier = None
        return database

    RDSBackend.promote_read_replica = _promote_read_replica
