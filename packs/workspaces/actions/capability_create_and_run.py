"""workspaces.capability_create_and_run (nrao.md B4): create a capability request (idempotent per
external_ref), submit it, and by default wait until it is Complete, Failed or Cancelled."""

from st2common.runners.base_action import Action

from lib.workspaces_client import RequestKind, create_and_run, quote


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


CAPABILITY_REQUEST = RequestKind(
    label="capability request",
    id_field="id",
    missing_id="request id",
    name_field="capability_name",
    poll_path="/capability/request/%s",
    cancel_path="/capability/request/%s/cancel",
    summary=summary,
)


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
        def submit(client, request_id):
            return client.call("POST", "/capability/request/%s/submit" % request_id)[1]

        return create_and_run(
            self,
            CAPABILITY_REQUEST,
            capability_name,
            "/capability/%s/request/create" % quote(capability_name),
            {"parameters": parameters, "external_ref": external_ref},
            submit,
            "",
            (),
            wait,
            poll_interval_s,
            timeout_s,
            cancel_on_timeout,
            max_http_retries,
        )
