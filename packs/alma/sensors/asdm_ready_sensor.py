"""alma.AsdmReadySensor: ASDMs (execution blocks) whose QA0 status makes them ready to (re)ingest.

The QueueLoader role of NRAO's Amygdala (nrao.md A1, A2): every `asdm_poll_interval_s` it asks
the archive for execution blocks whose QA0 status is one of `asdm_qa0_statuses` and changed in
the last `asdm_lookback_hours`, and emits `alma.asdm_ready` once per ASDM and QA0 status (again,
with `restated: true`, when the status changes). See archive_poller.py for the cursor, the
seen-set and why nothing is lost or doubled.
"""

from st2reactor.sensor.base import PollingSensor

from archive_poller import ArchivePollingSensorMixin, format_time, parse_time

DEFAULT_QA0 = ["Pass", "SemiPass"]


class AsdmReadySensor(ArchivePollingSensorMixin, PollingSensor):
    TRIGGER = "alma.asdm_ready"
    CONFIG_PREFIX = "asdm_"
    PATH = "/api/v1/execblocks"
    SINCE_PARAM = "updated_since"
    TIME_FIELD = "status_time"
    ID_FIELD = "asdm_uid"
    WINDOW_NAME = "lookback_hours"
    WINDOW_UNIT_S = 3600.0
    DEFAULT_WINDOW = 12
    DEFAULT_POLL_INTERVAL_S = 3600
    DEFAULT_SEEN_TTL_DAYS = 30

    def __init__(self, sensor_service, config=None, poll_interval=None):
        super(AsdmReadySensor, self).__init__(
            sensor_service=sensor_service, config=config, poll_interval=poll_interval
        )
        statuses = (config or {}).get("asdm_qa0_statuses") or DEFAULT_QA0
        self._statuses = [str(s) for s in statuses]

    def query_params(self):
        return [("qa0_status", ",".join(self._statuses))]

    def fingerprint(self, item):
        return str(item.get("qa0_status"))

    def item_payload(self, item, restated):
        if item.get("qa0_status") not in self._statuses:
            raise ValueError("QA0 status %r is not one of %s" % (item.get("qa0_status"), self._statuses))
        return {
            "asdm_uid": item["asdm_uid"],
            "mous_uid": item.get("mous_uid"),
            "project_code": item["project_code"],
            "qa0_status": item["qa0_status"],
            "status_time": format_time(parse_time(item["status_time"])),
            "end_time": format_time(parse_time(item["end_time"])),
            "band": item.get("band"),
            "array": item.get("array"),
            "size_bytes": item.get("size_bytes"),
            "restated": bool(restated),
        }
