"""workspaces.capability_create_and_run (nrao.md B4): create a capability request (idempotent per
external_ref), submit it, and by default wait until it is Complete, Failed or Cancelled."""

from st2common.runners.base_action import Action

from lib.workspaces_client import (
    TERMINAL,
    Deadline,
    WorkspacesClient,
    WorkspacesError,
    quote,
)


def request_state(body):
    return body.get("state") if isinstance(body, dict) else None


def summary(request, capability_name, created):
    execution = request.get("current_execution") or {}
    return {
        "request_id": request.get("id"),
        "execution_id": execution.get("id"),
        "capability_name": capability_name,
        "external_ref": request.get("external_ref"),
        "state": request.get("state"),
        "execution_state": execution.get("state"),
        "created": created,
        "started_at": execution.get("started_at"),
        "finished_at": execution.get("finished_at"),
        "result": request.get("result"),
        "request": request,
    }


class CapabilityCreateAndRun(Action):
    def run(
        self,
        capability_name,
        parameters,
        external_ref=None,
        wait=True,
        poll_interval_s=None,
        timeout_s=86400,
        cancel_on_timeout=False,
        max_http_retries=3,
    ):
        if poll_interval_s is None:
            poll_interval_s = float(self.config.get("poll_interval_s") or 30)
        deadline = Deadline(timeout_s)
        try:
            client = WorkspacesClient(
                self.config, max_http_retries=max_http_retries, deadline=deadline, logger=self.logger
            )
            status, request = client.call(
                "POST",
                "/capability/%s/request/create" % quote(capability_name),
                {"parameters": parameters, "external_ref": external_ref},
            )
            created = status == 201
            request_id = request.get("id")
            if request_id is None:
                raise WorkspacesError("create returned no request id", status=status, body=request)
            self.logger.info(
                "%s capability request %s (%s) for %s",
                "Created" if created else "Found existing",
                request_id,
                request.get("state"),
                external_ref,
            )
            if request.get("state") == "Created":
                _, request = client.call("POST", "/capability/request/%s/submit" % request_id)
            if not wait or request_state(request) in TERMINAL:
                return self._finish(request, capability_name, created, wait)
            path = "/capability/request/%s" % request_id
            request, timed_out = client.wait_terminal(path, request_state, float(poll_interval_s))
            if timed_out:
                result = summary(request, capability_name, created)
                result["timed_out"] = True
                result["error"] = "capability request %s still %s after %ss" % (
                    request_id, request_state(request), timeout_s
                )
                if cancel_on_timeout:
                    client.deadline = Deadline(60)
                    _, result["request"] = client.call("POST", "/capability/request/%s/cancel" % request_id)
                    result["cancelled"] = True
                return (False, result)
            return self._finish(request, capability_name, created, wait)
        except WorkspacesError as error:
            result = error.to_result()
            result["capability_name"] = capability_name
            result["external_ref"] = external_ref
            return (False, result)

    def _finish(self, request, capability_name, created, wait):
        result = summary(request, capability_name, created)
        state = request_state(request)
        if state in ("Failed", "Cancelled"):
            result["error"] = "capability request %s ended %s" % (request.get("id"), state)
            return (False, result)
        if wait and state != "Complete":
            return (False, result)
        return (True, result)
