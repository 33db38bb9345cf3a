"""S3: bucket intelligent-tiering configurations (moto 5.2 answers ``?intelligent-tiering`` with a listing),
so the Performance Tuning runbook's tiering action can be planned and applied in the sandbox."""
from __future__ import annotations

def install() -> None:
    """Get/put/delete/list of bucket intelligent-tiering configurations, kept on moto's bucket object
    (so a moto reset clears them), serialized by moto's own botocore-model serializer."""
    import xmltodict
    from moto.core.responses import ActionResult, EmptyResult
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    class NoSuchConfiguration(S3ClientError):
        code = 404

        def __init__(self, config_id: str):
            super().__init__("NoSuchConfiguration", f"The specified configuration does not exist: {config_id}")

    def configs(self, bucket_name: str) -> dict:
        bucket = self.backend.get_bucket(bucket_name)
        if not hasattr(bucket, "opslib_intelligent_tiering"):
            bucket.opslib_intelligent_tiering = {}
        return bucket.opslib_intelligent_tiering

    def parse(body: bytes) -> dict:
        raw = xmltodict.parse(body)["IntelligentTieringConfiguration"]
        tierings = raw.get("Tiering") or []
        tierings = tierings if isinstance(tierings, list) else [tierings]
        out = {"Id": raw["Id"], "Status": raw["Status"],
               "Tierings": [{"Days": int(t["Days"]), "AccessTier": t["AccessTier"]} for t in tierings]}
        if raw.get("Filter"):
            flt = dict(raw["Filter"])
            out["Filter"] = {k: v for k, v in flt.items() if k in ("Prefix", "Tag", "And")}
        return out

    get, put, delete = (S3Response._bucket_response_get, S3Response._bucket_response_put,
                        S3Response._bucket_response_delete)

    def _get(self, bucket_name, querystring):
        if "intelligent-tiering" not in querystring:
            return get(self, bucket_name, querystring)
        found = configs(self, bucket_name)
        if "id" in querystring:
            config_id = querystring["id"][0]
            if config_id not in found:
                raise NoSuchConfiguration(config_id)
            self.data["Action"] = "GetBucketIntelligentTieringConfiguration"
            return self.serialized(ActionResult({"IntelligentTieringConfiguration": found[config_id]}))
        self.data["Action"] = "ListBucketIntelligentTieringConfigurations"
        return self.serialized(ActionResult({"IsTruncated": False,
                                             "IntelligentTieringConfigurationList": list(found.values())}))

    def _put(self, request, bucket_name, querystring):
        if "intelligent-tiering" not in querystring:
            return put(self, request, bucket_name, querystring)
        config = parse(self.body)
        configs(self, bucket_name)[querystring["id"][0]] = config
        self.data["Action"] = "PutBucketIntelligentTieringConfiguration"
        return self.serialized(EmptyResult())

    def _delete(self, bucket_name, querystring):
        if "intelligent-tiering" not in querystring:
            return delete(self, bucket_name, querystring)
        found = configs(self, bucket_name)
        config_id = querystring["id"][0]
        if config_id not in found:
            raise NoSuchConfiguration(config_id)
        del found[config_id]
        self.data["Action"] = "DeleteBucketIntelligentTieringConfiguration"
        return 204, {}, ""

    S3Response._bucket_response_get = _get
    S3Response._bucket_response_put = _put
    S3Response._bucket_response_delete = _delete
