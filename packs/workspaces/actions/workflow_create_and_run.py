"""workspaces.workflow_create_and_run (nrao.md B4): create a workflow request (idempotent per
external_ref), attach files, submit, and by default wait until Complete, Failed or Cancelled.
A run that goes back from Running to Submitted (restarted by Workspaces) is waited for."""

from st2common.runners.base_action import Action

from lib.workspaces_client import RequestKind, create_and_run, quote


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


WORKFLOW_REQUEST = RequestKind(
    label="workflow request",
    id_field="workflow_request_id",
    missing_id="workflow_request_id",
    name_field="workflow_name",
    poll_path="/workflows/requests/%s",
    cancel_path="/workflows/requests/%s/abort",
    summary=summary,
)


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
        name = quote(workflow_name)

        def submit(client, request_id):
            for filename, text in sorted((files or {}).items()):
                client.call(
                    "PUT",
                    "/workflows/%s/requests/%s/files/%s" % (name, request_id, quote(filename)),
                    raw=text if isinstance(text, str) else str(text),
                )
            return client.call("POST", "/workflows/%s/requests/%s/submit" % (name, request_id))[1]

        return create_and_run(
            self,
            WORKFLOW_REQUEST,
            workflow_name,
            "/workflows/%s/requests/create" % name,
            {"argument": argument, "external_ref": external_ref},
            submit,
            " (concurrency key %s)",
            (concurrency_key,),
            wait,
            poll_interval_s,
            timeout_s,
            cancel_on_timeout,
            max_http_retries,
        )
