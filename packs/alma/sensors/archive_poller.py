"""Polling an archive list endpoint without losing or doubling an item (nrao.md B1).

Shared by the alma pack's sensors (``AsdmReadySensor``, ``CalibrationReadySensor``). Standard
library only (urllib), as the sensors must run on a plain Python 3.

* **Window.** Each poll asks for items changed since ``min(cursor, now - lookback)``: the
  look-back overlaps earlier polls, so an item the archive records late (its time in the past)
  is still found. The cursor matters after a long outage: it reaches back to the last item seen.
* **Seen-set.** Key ``seen:<id>`` in the sensor's datastore holds the item's fingerprint (its
  QA0 status, its delivery time) with a TTL longer than the window. An item is emitted when its
  key is absent or holds another fingerprint (``restated``). The keys are read once at start
  and kept in memory; this sensor is their only writer.
* **Order and crashes.** Before dispatching a batch the sensor writes its ids to key
  ``inflight``; each event is dispatched with ``dispatch_checked`` (it returns once Nerve has
  recorded the event) and a trace tag naming the item; then ``seen:`` keys are written and
  ``inflight`` is deleted. After a crash in between, the next start asks Nerve's API for a trace
  with that tag started after the batch: recorded items are marked seen, the others are sent
  again. So every item becomes exactly one trigger instance, across restarts of the sensor and
  of Nerve, and an outage of the archive only delays it.
* **Errors.** A connection error, a 5xx or a 429 keeps the cursor; the next poll comes after a
  backoff (1, 2, 4 ... seconds, at most the poll interval). A 4xx is a configuration problem
  and is logged as an error naming the URL.
"""

import datetime
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

SEEN_PREFIX = "seen:"
CURSOR_KEY = "cursor"
INFLIGHT_KEY = "inflight"
BACKFILL_KEY = "backfill_done"


class SourceError(Exception):
    """The archive could not answer now (connection, 5xx, 429): try again later."""


class RequestError(Exception):
    """The archive refused the request (4xx): a configuration problem."""


class ConfigError(Exception):
    """The pack config cannot work."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(text):
    """An RFC 3339 time as an aware datetime (``Z`` or an offset)."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a time: %r" % (text,))
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    # Python < 3.11 takes at most 6 fraction digits.
    if "." in value:
        head, rest = value.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        value = "%s.%s%s" % (head, (digits + "000000")[:6], rest)
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def format_time(moment):
    """RFC 3339 in UTC with a ``Z``."""
    text = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text.rstrip("0").rstrip(".") + "Z"


def number(config, name, default, minimum=None):
    value = config.get(name, default)
    if value is None:
        value = default
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError("`%s` must be a number, not %r" % (name, value))
    if minimum is not None and value < minimum:
        raise ConfigError("`%s` must be at least %s, not %s" % (name, minimum, value))
    return value


class ArchiveClient(object):
    """GETs JSON from the archive with urllib."""

    def __init__(self, base_url, timeout_s=30.0, verify_tls=True):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._context = None
        if base_url.startswith("https:") and not verify_tls:
            self._context = ssl.create_default_context()
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE

    def get(self, path, params):
        query = urllib.parse.urlencode([(k, v) for k, v in params if v is not None])
        url = "%s%s?%s" % (self.base_url, path, query)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout_s, context=self._context
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            if error.code >= 500 or error.code == 429:
                raise SourceError("GET %s answered %s: %s" % (url, error.code, detail))
            raise RequestError("GET %s answered %s: %s" % (url, error.code, detail))
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SourceError("GET %s failed: %s" % (url, reason))
        try:
            page = json.loads(body.decode("utf-8"))
        except ValueError as error:
            raise SourceError("GET %s returned no JSON: %s" % (url, error))
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise SourceError("GET %s returned no `items` list" % url)
        return page


class NerveTraces(object):
    """Asks Nerve's API whether an event with a trace tag was recorded (crash recovery)."""

    def __init__(self, api_url, token):
        self.api_url = (api_url or "").rstrip("/")
        self.token = token

    def available(self):
        return bool(self.api_url)

    def recorded_since(self, trace_tag, trigger, since):
        """True when an event of `trigger` tagged `trace_tag` was recorded at or after `since`."""
        base = self.api_url
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        url = "%s/traces?%s" % (base, urllib.parse.urlencode({"trace_tag": trace_tag}))
        headers = {"Accept": "application/json"}
        if self.token:
            headers["X-Auth-Token"] = self.token
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            traces = json.loads(response.read().decode("utf-8"))
        for trace in traces if isinstance(traces, list) else []:
            try:
                started = parse_time(trace.get("start_timestamp"))
            except ValueError:
                continue
            refs = [c.get("ref") or c.get("component_ref") for c in trace.get("trigger_instances", [])]
            if started >= since and (trigger in refs or not refs):
                return True
        return False


class SeenSet(object):
    """The sensor's seen-set, inflight marker and cursor, in its datastore."""

    def __init__(self, sensor_service, logger, ttl_s):
        self._service = sensor_service
        self._logger = logger
        self.ttl_s = int(ttl_s)
        self._seen = {}

    def load(self):
        self._seen = {}
        for pair in self._service.list_values(local=True, prefix=SEEN_PREFIX):
            name = pair.name.split(":", 1)[1] if ":" in pair.name else pair.name
            if name.startswith(SEEN_PREFIX):
                self._seen[name[len(SEEN_PREFIX):]] = pair.value
        return len(self._seen)

    def fingerprint(self, item_id):
        return self._seen.get(item_id)

    def mark(self, item_id, fingerprint):
        self._service.set_value(SEEN_PREFIX + item_id, fingerprint, ttl=self.ttl_s)
        self._seen[item_id] = fingerprint

    def get_json(self, key):
        text = self._service.get_value(key)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            self._logger.warning("Ignoring datastore key %s: not JSON: %r", key, text)
            return None

    def set_json(self, key, value):
        self._service.set_value(key, json.dumps(value, sort_keys=True))

    def delete(self, key):
        self._service.delete_value(key)


class ArchivePollingSensorMixin(object):
    """The poll loop shared by the alma sensors.

    A subclass sets TRIGGER, CONFIG_PREFIX, PATH, SINCE_PARAM, TIME_FIELD, ID_FIELD,
    DEFAULT_* and implements ``item_payload(item, restated)`` and ``fingerprint(item)``.
    """

    TRIGGER = None
    CONFIG_PREFIX = None
    PATH = None
    SINCE_PARAM = None
    TIME_FIELD = None
    ID_FIELD = None
    WINDOW_UNIT_S = 3600.0
    WINDOW_NAME = None
    DEFAULT_POLL_INTERVAL_S = 3600

    def __init__(self, sensor_service, config=None, poll_interval=None):
        super(ArchivePollingSensorMixin, self).__init__(
            sensor_service=sensor_service,
            config=config,
            poll_interval=poll_interval or self.DEFAULT_POLL_INTERVAL_S,
        )

    def setup(self):
        self._setup_poller()

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass

    def _setup_poller(self):
        self._logger = self.sensor_service.get_logger(self.__class__.__name__)
        self._not_configured_logged = False
        self._backoff_s = 0.0
        self._client = None
        self._seen = None
        self._traces = NerveTraces(_env("ST2_API_URL"), _env("ST2_AUTH_TOKEN"))
        config = self.config or {}
        url = (config.get("archive_url") or "").strip()
        if not url:
            self._logger.warning(
                "Idle: the alma pack has no archive_url; set it with "
                "`nerve pack config alma archive_url=https://...`"
            )
            self.set_poll_interval(3600)
            return
        if not (url.startswith("http://") or url.startswith("https://")):
            raise ConfigError(
                "alma pack config: `archive_url` must be an http:// or https:// URL, not %r" % url
            )
        try:
            self._read_config(config)
        except ConfigError as error:
            raise ConfigError("alma pack config: %s" % error)
        self._client = ArchiveClient(
            url,
            timeout_s=number(config, "timeout_s", 30, minimum=0.1),
            verify_tls=bool(config.get("verify_tls", True)),
        )
        self._seen = SeenSet(self.sensor_service, self._logger, self._seen_ttl_s)
        count = self._seen.load()
        self.set_poll_interval(self._interval_s)
        self._logger.info(
            "Polling %s%s every %gs, window %gs, %d items seen",
            url,
            self.PATH,
            self._interval_s,
            self._window_s,
            count,
        )

    def _read_config(self, config):
        prefix = self.CONFIG_PREFIX
        self._interval_s = number(
            config, prefix + "poll_interval_s", self.DEFAULT_POLL_INTERVAL_S, minimum=0.05
        )
        self._window_s = (
            number(config, prefix + self.WINDOW_NAME, self.DEFAULT_WINDOW, minimum=0)
            * self.WINDOW_UNIT_S
        )
        self._page_size = int(number(config, prefix + "page_size", 200, minimum=1))
        self._max_emit = int(
            number(config, prefix + "max_emit_per_poll", 1000, minimum=1)
        )
        self._seen_ttl_s = (
            number(config, prefix + "seen_ttl_days", self.DEFAULT_SEEN_TTL_DAYS, minimum=0)
            * 86400.0
        )
        if self._seen_ttl_s <= self._window_s + 2 * self._interval_s:
            raise ConfigError(
                "`%sseen_ttl_days` (%g days) must be longer than the look-back window plus two "
                "poll intervals (%g days), or items would be emitted twice"
                % (
                    prefix,
                    self._seen_ttl_s / 86400.0,
                    (self._window_s + 2 * self._interval_s) / 86400.0,
                )
            )
        self._initial_since = None
        self._backfill_since = None
        for name in ("initial_since", "backfill_since"):
            text = config.get(prefix + name)
            if text:
                try:
                    setattr(self, "_" + name, parse_time(text))
                except ValueError:
                    raise ConfigError(
                        "`%s%s` must be an RFC 3339 time like 2024-05-01T00:00:00Z, not %r"
                        % (prefix, name, text)
                    )

    # -- the poll ---------------------------------------------------------------------------

    def poll(self):
        if self._client is None:
            return
        try:
            self._recover_inflight()
            self._poll_once()
        except SourceError as error:
            self._backoff_s = min(max(self._backoff_s * 2, 1.0), self._interval_s)
            self._logger.warning(
                "The archive is not answering; the cursor stays, next try in %gs: %s",
                self._backoff_s,
                error,
            )
            self.set_poll_interval(self._backoff_s)
            return
        except RequestError as error:
            self._logger.error("The archive refused the request (check the pack config): %s", error)
        except Exception:  # noqa: BLE001 - a sensor must outlive one bad poll
            self._logger.exception("Poll failed; trying again next poll")
        if self._backoff_s:
            self._logger.info("The archive answers again")
        self._backoff_s = 0.0
        self.set_poll_interval(self._interval_s)

    def _window_start(self, now):
        cursor = self._seen.get_json(CURSOR_KEY)
        floor = now - datetime.timedelta(seconds=self._window_s)
        backfill = None
        if self._backfill_since is not None:
            done = self._seen.get_json(BACKFILL_KEY)
            if done != format_time(self._backfill_since):
                backfill = self._backfill_since
        if backfill is not None:
            return backfill, backfill
        if cursor and cursor.get("ts"):
            try:
                return min(parse_time(cursor["ts"]), floor), None
            except ValueError:
                self._logger.warning("Ignoring a cursor that is not a time: %r", cursor)
        if self._initial_since is not None:
            return min(self._initial_since, floor), None
        return floor, None

    def _poll_once(self):
        now = utcnow()
        since, backfill = self._window_start(now)
        token = None
        emitted = 0
        pages = 0
        while True:
            params = self.query_params() + [
                (self.SINCE_PARAM, format_time(since)),
                ("limit", str(self._page_size)),
                ("page_token", token),
            ]
            page = self._client.get(self.PATH, params)
            pages += 1
            batch = []
            last_key = None
            stopped = False
            for item in page["items"]:
                try:
                    item_id = str(item[self.ID_FIELD])
                    item_time = parse_time(item[self.TIME_FIELD])
                except (KeyError, TypeError, ValueError) as error:
                    self._logger.error("Skipping an archive item without a valid %s/%s (%s): %r",
                                       self.ID_FIELD, self.TIME_FIELD, error, item)
                    continue
                fingerprint = self.fingerprint(item)
                known = self._seen.fingerprint(item_id)
                if known in (fingerprint, "refused:" + fingerprint):
                    last_key = (item_time, item_id)
                    continue
                if emitted + len(batch) >= self._max_emit:
                    stopped = True
                    break
                try:
                    restated = known is not None and not known.startswith("refused:")
                    payload = self.item_payload(item, restated=restated)
                except (KeyError, TypeError, ValueError) as error:
                    self._logger.error("Skipping archive item %s: %s", item_id, error)
                    continue
                batch.append((item_id, fingerprint, payload))
                last_key = (item_time, item_id)
            emitted += self._emit(batch)
            if last_key is not None:
                self._advance_cursor(last_key)
            token = page.get("next_page_token")
            if stopped:
                self._logger.info("Emitted %d items (max_emit_per_poll); the rest next poll", emitted)
                return
            if not token:
                break
        if backfill is not None:
            self._seen.set_json(BACKFILL_KEY, format_time(backfill))
            self._logger.info("Backfill from %s done", format_time(backfill))
        if emitted:
            self._logger.info("Emitted %d %s events (%d pages)", emitted, self.TRIGGER, pages)

    def _advance_cursor(self, key):
        item_time, item_id = key
        cursor = self._seen.get_json(CURSOR_KEY) or {}
        current = None
        if cursor.get("ts"):
            try:
                current = (parse_time(cursor["ts"]), cursor.get("key") or "")
            except ValueError:
                current = None
        if current is None or key > current:
            self._seen.set_json(CURSOR_KEY, {"ts": format_time(item_time), "key": item_id})

    def _emit(self, batch):
        """Dispatch-then-mark for one page; returns how many were recorded."""
        if not batch:
            return 0
        self._seen.set_json(
            INFLIGHT_KEY,
            {
                "at": format_time(utcnow()),
                "items": [{"id": i, "fingerprint": f} for i, f, _ in batch],
            },
        )
        recorded = 0
        for item_id, fingerprint, payload in batch:
            try:
                self._dispatch(payload, item_id)
            except Exception as error:  # noqa: BLE001
                if _is_refusal(error):
                    self._logger.error(
                        "Nerve refused the %s event for %s (it is not sent again): %s",
                        self.TRIGGER, item_id, error,
                    )
                    self._seen.mark(item_id, "refused:" + fingerprint)
                    continue
                # Unknown whether it was recorded: inflight stays for the recovery.
                raise SourceError("dispatch of %s: %s" % (item_id, error))
            self._seen.mark(item_id, fingerprint)
            recorded += 1
        self._seen.delete(INFLIGHT_KEY)
        return recorded

    def _dispatch(self, payload, item_id):
        checked = getattr(self.sensor_service, "dispatch_checked", None)
        if checked is not None:
            checked(self.TRIGGER, payload, trace_tag=item_id)
        else:  # StackStorm: dispatch() publishes synchronously
            self.sensor_service.dispatch(self.TRIGGER, payload, trace_tag=item_id)

    def _recover_inflight(self):
        inflight = self._seen.get_json(INFLIGHT_KEY)
        if not inflight:
            return
        items = inflight.get("items") or []
        try:
            since = parse_time(inflight.get("at")) - datetime.timedelta(seconds=5)
        except ValueError:
            since = utcnow() - datetime.timedelta(days=1)
        resent = 0
        for entry in items:
            item_id, fingerprint = entry.get("id"), entry.get("fingerprint")
            if not item_id or self._seen.fingerprint(item_id) == fingerprint:
                continue
            recorded = False
            if self._traces.available():
                try:
                    recorded = self._traces.recorded_since(item_id, self.TRIGGER, since)
                except Exception as error:  # noqa: BLE001
                    raise SourceError("cannot ask Nerve about unfinished dispatches: %s" % error)
            if recorded:
                self._seen.mark(item_id, fingerprint)
            else:
                resent += 1  # not seen: the next poll (same window) emits it again
        self._seen.delete(INFLIGHT_KEY)
        self._logger.info(
            "Recovered an interrupted batch of %d: %d were recorded, %d will be sent again",
            len(items), len(items) - resent, resent,
        )

    def query_params(self):
        return []


def _is_refusal(error):
    """A `rejected` answer (the payload does not fit the schema), not a lost connection."""
    name = type(error).__name__
    return name == "DatastoreError" and "request failed:" in str(error) and (
        "sensor host is gone" not in str(error) and "closed stdin" not in str(error)
    )


def _env(name):
    return os.environ.get(name)
