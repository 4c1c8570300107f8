"""alma.CalibrationReadySensor: MOUS calibrations delivered, to ingest or to reject.

Every `calibration_poll_interval_s` it asks the archive for calibrations delivered in the last
`calibration_lookback_days` (nrao.md A2: daily, two days) and emits `alma.calibration_ready` once
per MOUS and delivery. `calibratable` is A3's rule: science products archived and no manual
calibration script (`scriptFor%Cal%`), which the pipeline cannot restore.
"""

from st2reactor.sensor.base import PollingSensor

from archive_poller import ArchivePollingSensorMixin, format_time, parse_time


class CalibrationReadySensor(ArchivePollingSensorMixin, PollingSensor):
    TRIGGER = "alma.calibration_ready"
    CONFIG_PREFIX = "calibration_"
    PATH = "/api/v1/calibrations"
    SINCE_PARAM = "delivered_since"
    TIME_FIELD = "delivered_at"
    ID_FIELD = "mous_uid"
    WINDOW_NAME = "lookback_days"
    WINDOW_UNIT_S = 86400.0
    DEFAULT_WINDOW = 2
    DEFAULT_POLL_INTERVAL_S = 86400
    DEFAULT_SEEN_TTL_DAYS = 60

    def fingerprint(self, item):
        return format_time(parse_time(item["delivered_at"]))

    def item_payload(self, item, restated):
        science = bool(item.get("has_science_products"))
        manual = bool(item.get("manual_calibration_script"))
        return {
            "mous_uid": item["mous_uid"],
            "project_code": item["project_code"],
            "asdm_uids": list(item.get("asdm_uids") or []),
            "delivered_at": format_time(parse_time(item["delivered_at"])),
            "casa_version": item.get("casa_version"),
            "product_file_count": int(item.get("product_file_count") or 0),
            "has_science_products": science,
            "manual_calibration_script": manual,
            "calibratable": science and not manual,
            "restated": bool(restated),
        }
