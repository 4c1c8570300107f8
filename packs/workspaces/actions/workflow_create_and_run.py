"""workspaces.workflow_create_and_run (nrao.md B4): create a workflow request (idempotent per
external_ref), attach files, submit, and by default wait until Complete, Failed or Cancelled.
A run that goes back from Running to Submitted (restarted by Workspaces) is waited for."""

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


def summary(request, workflow_name, created):
    return {
        "workflow_request_id": request.get("workflow_request_id"),
        "workflow_name": workflow_name,
        "external_ref": request.get("external_ref"),
        "state": request.get("state"),
        "created": created,
        "restarts": request.get("restarts"),
        "started_at": request.get("started_at"),
        "finished_at": request.get("finished_at"),
        "results_dir": request.get("results_dir"),
        "request": request,
    }


class WorkflowCreateAndRun(Action):
    def run(
        self,
        workflow_name,
        argument,
        files=None,
        concurrency_key=None,
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
        name = quote(workflow_name)
        try:
            client = WorkspacesClient(
                self.config, max_http_retries=max_http_retries, deadline=deadline, logger=self.logger
            )
            status, request = client.call(
                "POST",
                "/workflows/%s/requests/create" % name,
                {"argument": argument, "external_ref": external_ref},
            )
            created = status == 201
            request_id = request.get("workflow_request_id")
            if request_id is None:
                raise WorkspacesError("create returned no workflow_request_id", status=status, body=request)
            self.logger.info(
                "%s workflow request %s (%s) for %s (concurrency key %s)",
                "Created" if created else "Found existing",
                request_id,
                request.get("state"),
                external_ref,
                concurrency_key,
            )
            if request.get("state") == "Created":
                for filename, text in sorted((files or {}).items()):
                    client.call(
                        "PUT",
                        "/workflows/%s/requests/%s/files/%s" % (name, request_id, quote(filename)),
                        raw=text if isinstance(text, str) else str(text),
                    )
                _, request = client.call(
                    "POST", "/workflows/%s/requests/%s/submit" % (name, request_id)
                )
            if not wait or request_state(request) in TERMINAL:
                return self._finish(request, workflow_name, created, wait)
            path = "/workflows/requests/%s" % request_id
            request, timed_out = client.wait_terminal(path, request_state, float(poll_interval_s))
            if timed_out:
                result = summary(request, workflow_name, created)
                result["timed_out"] = True
                result["error"] = "workflow request %s still %s after %ss" % (
                    request_id, request_state(request), timeout_s
                )
                if cancel_on_timeout:
                    client.deadline = Deadline(60)
                    _, result["request"] = client.call("POST", "/workflows/requests/%s/abort" % request_id)
                    result["cancelled"] = True
                return (False, result)
            return self._finish(request, workflow_name, created, wait)
        except WorkspacesError as error:
            result = error.to_result()
            result["workflow_name"] = workflow_name
            result["external_ref"] = external_ref
            return (False, result)

    def _finish(self, request, workflow_name, created, wait):
        result = summary(request, workflow_name, created)
        state = request_state(request)
        if state in ("Failed", "Cancelled"):
            result["error"] = "workflow request %s ended %s" % (
                request.get("workflow_request_id"), state
            )
            return (False, result)
        if wait and state != "Complete":
            return (False, result)
        return (True, result)
