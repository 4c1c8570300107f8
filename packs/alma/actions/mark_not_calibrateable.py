"""alma.mark_not_calibrateable: PUT calibration_status=DoNotCalibrate for each ASDM (nrao.md B2)."""

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from st2common.runners.base_action import Action

UID_PATTERN_HINT = "uid://A002/X<hex>/X<hex>"
RETRY_DELAYS_S = (0.5, 1.0, 2.0)


class ArchiveRequestError(Exception):
    def __init__(self, status, message):
        super(ArchiveRequestError, self).__init__(message)
        self.status = status


class MarkNotCalibrateable(Action):
    def run(self, asdm_uids, reason, comment=None, ignore_missing=False, dry_run=False):
        base_url = (self.config.get("archive_url") or "").strip().rstrip("/")
        if not base_url:
            raise ValueError(
                "the alma pack has no archive_url; set it with "
                "`nerve pack config alma archive_url=https://...`"
            )
        self._timeout = float(self.config.get("timeout_s") or 30)
        self._context = None
        if base_url.startswith("https:") and self.config.get("verify_tls") is False:
            self._context = ssl.create_default_context()
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE
        result = {"updated": [], "unchanged": [], "not_found": [], "conflicts": [], "errors": []}
        seen = set()
        for uid in asdm_uids:
            uid = str(uid).strip()
            if not uid.startswith("uid://") or uid in seen:
                if not uid.startswith("uid://"):
                    result["errors"].append(
                        {"asdm_uid": uid, "error": "not an ASDM UID (%s)" % UID_PATTERN_HINT}
                    )
                continue
            seen.add(uid)
            path = "/api/v1/execblocks/%s" % urllib.parse.quote(uid, safe="")
            try:
                if dry_run:
                    eb = self._call("GET", base_url + path)
                    bucket = {
                        "Calibrated": "conflicts",
                        "DoNotCalibrate": "unchanged",
                    }.get(eb.get("calibration_status"), "updated")
                    result[bucket].append(uid)
                    continue
                answer = self._call(
                    "PUT",
                    base_url + path + "/calibration-status",
                    {"calibration_status": "DoNotCalibrate", "reason": reason, "comment": comment},
                )
                result["updated" if answer.get("changed") else "unchanged"].append(uid)
            except ArchiveRequestError as error:
                if error.status == 404:
                    result["not_found"].append(uid)
                elif error.status == 409:
                    result["conflicts"].append(uid)
                else:
                    result["errors"].append({"asdm_uid": uid, "error": str(error)})
        result["dry_run"] = bool(dry_run)
        problems = []
        if result["conflicts"]:
            problems.append(
                "already Calibrated, left as they are: %s" % ", ".join(result["conflicts"])
            )
        if result["not_found"] and not ignore_missing:
            problems.append("unknown to the archive: %s" % ", ".join(result["not_found"]))
        if result["errors"]:
            problems.append("%d could not be updated" % len(result["errors"]))
        if problems:
            result["message"] = "; ".join(problems)
            return (False, result)
        return (True, result)

    def _call(self, method, url, body=None):
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(
                    request, timeout=self._timeout, context=self._context
                ) as response:
                    return json.loads(response.read().decode("utf-8") or "{}")
            except urllib.error.HTTPError as error:
                detail = error.read().decode("utf-8", "replace")[:500]
                if error.code >= 500 and attempt < len(RETRY_DELAYS_S):
                    self.logger.warning("%s %s answered %s; retrying", method, url, error.code)
                    time.sleep(RETRY_DELAYS_S[attempt])
                    continue
                raise ArchiveRequestError(
                    error.code, "%s %s answered %s: %s" % (method, url, error.code, detail)
                )
            except (urllib.error.URLError, OSError) as error:
                if attempt < len(RETRY_DELAYS_S):
                    time.sleep(RETRY_DELAYS_S[attempt])
                    continue
                raise ArchiveRequestError(
                    None, "%s %s failed: %s" % (method, url, getattr(error, "reason", error))
                )
        raise ArchiveRequestError(None, "%s %s failed" % (method, url))
