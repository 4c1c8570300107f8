"""A small Workspaces REST client (urllib only) shared by the workspaces pack's actions.

The contract is ours (nrao.md B4): create (idempotent per external_ref), submit, poll until a
terminal state. Errors follow B4's table: connection errors, 502, 503 and 504 are retried
`max_http_retries` times (1, 2, 4 s); 429 and 503 with Retry-After wait as told (counted against
the action's timeout, not the retries); other 4xx fail at once with the status and body.
"""

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request

TERMINAL = ("Complete", "Failed", "Cancelled")
RETRIED_STATUSES = (502, 503, 504)


class WorkspacesError(Exception):
    """A request failed for good; `status` and `body` say how (status None: no answer)."""

    def __init__(self, message, status=None, body=None):
        super(WorkspacesError, self).__init__(message)
        self.status = status
        self.body = body

    def to_result(self):
        return {"error": str(self), "status": self.status, "body": self.body}


class Deadline(object):
    def __init__(self, seconds):
        self.end = time.monotonic() + max(0.0, float(seconds))

    def left(self):
        return self.end - time.monotonic()

    def passed(self):
        return self.left() <= 0


def not_configured():
    return WorkspacesError(
        "the workspaces pack has no base_url; set it with "
        "`nerve pack config workspaces base_url=https://...`"
    )


class WorkspacesClient(object):
    def __init__(self, config, max_http_retries=3, deadline=None, logger=None, sleep=time.sleep):
        base_url = (config.get("base_url") or "").strip().rstrip("/")
        if not base_url:
            raise not_configured()
        if not (base_url.startswith("http://") or base_url.startswith("https://")):
            raise WorkspacesError(
                "the workspaces pack's base_url must be an http:// or https:// URL, not %r" % base_url
            )
        self.base_url = base_url
        self.timeout_s = float(config.get("timeout_s") or 30)
        self.token = config.get("auth_token") or None
        self.max_http_retries = max(0, int(max_http_retries))
        self.deadline = deadline or Deadline(86400)
        self.logger = logger
        self.sleep = sleep

    def _log(self, message, *args):
        if self.logger is not None:
            self.logger.warning(message, *args)

    def call(self, method, path, body=None, raw=None, accept=(200, 201, 202)):
        """`(status, json)` of one request, with B4's retries."""
        url = self.base_url + path
        data = None
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        if raw is not None:
            data = raw.encode("utf-8")
            headers["Content-Type"] = "text/plain; charset=utf-8"
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        failures = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            wait = None
            try:
                timeout = max(1.0, min(self.timeout_s, self.deadline.left()))
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    text = response.read().decode("utf-8", "replace")
                    status = response.status
                return status, (json.loads(text) if text.strip() else {})
            except urllib.error.HTTPError as error:
                text = error.read().decode("utf-8", "replace")[:2000]
                retry_after = error.headers.get("Retry-After") if error.headers else None
                if error.code in (429, 503) and retry_after:
                    try:
                        wait = float(retry_after)
                    except ValueError:
                        wait = None
                if wait is not None:
                    self._log("%s %s answered %s; waiting %ss as told", method, path, error.code, wait)
                elif error.code in RETRIED_STATUSES and failures < self.max_http_retries:
                    wait = 2 ** failures
                    failures += 1
                    self._log("%s %s answered %s; retry %d in %ss", method, path, error.code, failures, wait)
                else:
                    try:
                        detail = json.loads(text)
                    except ValueError:
                        detail = text
                    message = detail.get("error") if isinstance(detail, dict) else None
                    raise WorkspacesError(
                        "%s %s answered %s: %s" % (method, url, error.code, message or text),
                        status=error.code,
                        body=detail,
                    )
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                if failures >= self.max_http_retries:
                    raise WorkspacesError("%s %s failed: %s" % (method, url, reason))
                wait = 2 ** failures
                failures += 1
                self._log("%s %s failed (%s); retry %d in %ss", method, path, reason, failures, wait)
            if self.deadline.left() < wait:
                raise WorkspacesError(
                    "%s %s: no answer before the action's timeout" % (method, url), status=None
                )
            self.sleep(wait)

    def wait_terminal(self, path, state_of, poll_interval_s):
        """Polls `path` until `state_of(body)` is terminal; returns (body, timed_out)."""
        body = None
        while True:
            _, body = self.call("GET", path)
            if state_of(body) in TERMINAL:
                return body, False
            left = self.deadline.left()
            if left <= 0:
                return body, True
            pause = poll_interval_s * random.uniform(0.9, 1.1)
            self.sleep(max(0.01, min(pause, left)))


def quote(text):
    return urllib.parse.quote(str(text), safe="")


def request_state(body):
    return body.get("state") if isinstance(body, dict) else None


class RequestKind(object):
    """What tells capability requests and workflow requests apart in `create_and_run`.

    `label` names one in messages ("capability request"), `id_field` is its id's field,
    `missing_id` what a create answer without it is said to lack, `name_field` the result's
    field for the capability's or workflow's name, `poll_path` and `cancel_path` format the
    request id into the paths that read and cancel it, and `summary(request, name, created)`
    is the action's result.
    """

    def __init__(self, label, id_field, missing_id, name_field, poll_path, cancel_path, summary):
        self.label = label
        self.id_field = id_field
        self.missing_id = missing_id
        self.name_field = name_field
        self.poll_path = poll_path
        self.cancel_path = cancel_path
        self.summary = summary


def create_and_run(
    action,
    kind,
    name,
    create_path,
    create_body,
    submit,
    log_note,
    log_args,
    wait,
    poll_interval_s,
    timeout_s,
    cancel_on_timeout,
    max_http_retries,
):
    """Creates a request (idempotent per external_ref), `submit(client, request_id)` while it is
    Created (returning the submitted request), and with `wait` polls until it ends: the action's
    `(ok, result)`. `log_note` with `log_args` ends the log line of the create."""
    external_ref = create_body.get("external_ref")
    if poll_interval_s is None:
        poll_interval_s = float(action.config.get("poll_interval_s") or 30)
    deadline = Deadline(timeout_s)
    try:
        client = WorkspacesClient(
            action.config, max_http_retries=max_http_retries, deadline=deadline, logger=action.logger
        )
        status, request = client.call("POST", create_path, create_body)
        created = status == 201
        request_id = request.get(kind.id_field)
        if request_id is None:
            raise WorkspacesError("create returned no %s" % kind.missing_id, status=status, body=request)
        action.logger.info(
            "%s %s %s (%s) for %s" + log_note,
            "Created" if created else "Found existing",
            kind.label,
            request_id,
            request.get("state"),
            external_ref,
            *log_args
        )
        if request.get("state") == "Created":
            request = submit(client, request_id)
        if not wait or request_state(request) in TERMINAL:
            return finish(kind, request, name, created, wait)
        path = kind.poll_path % request_id
        request, timed_out = client.wait_terminal(path, request_state, float(poll_interval_s))
        if timed_out:
            result = kind.summary(request, name, created)
            result["timed_out"] = True
            result["error"] = "%s %s still %s after %ss" % (
                kind.label, request_id, request_state(request), timeout_s
            )
            if cancel_on_timeout:
                client.deadline = Deadline(60)
                _, result["request"] = client.call("POST", kind.cancel_path % request_id)
                result["cancelled"] = True
            return (False, result)
        return finish(kind, request, name, created, wait)
    except WorkspacesError as error:
        result = error.to_result()
        result[kind.name_field] = name
        result["external_ref"] = external_ref
        return (False, result)


def finish(kind, request, name, created, wait):
    """The action's `(ok, result)` for a request that ended, or was not waited for."""
    result = kind.summary(request, name, created)
    state = request_state(request)
    if state in ("Failed", "Cancelled"):
        result["error"] = "%s %s ended %s" % (kind.label, request.get(kind.id_field), state)
        return (False, result)
    if wait and state != "Complete":
        return (False, result)
    return (True, result)
