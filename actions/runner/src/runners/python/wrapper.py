"""Nerve's Python action wrapper: runs an unmodified StackStorm Python action.

Started by nerve-runner as `python -u -c <this file> --pack=<pack> --file-path=<action.py>`.
stdin carries one JSON object: {"parameters": {...}, "config": {...}, "log_level": "..."}.
The action's result is printed on stdout between two RESULT_DELIMITER markers, as StackStorm's
python_action_wrapper.py does. Standard library only; Python 3.6+.
"""

import sys

# `-c` puts the working directory first on sys.path; an action's cwd must not shadow modules.
if sys.path and sys.path[0] == "":
    del sys.path[0]

import abc
import argparse
import importlib.util
import inspect
import json
import logging
import os
import types
import urllib.error
import urllib.parse
import urllib.request

RESULT_DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"
INVALID_STATUS_EXIT_CODE = 220
AUDIT = 60
SYSTEM_SCOPES = ("system", "st2kv.system")
USER_SCOPES = ("user", "st2kv.user")
KEY_SEPARATOR = ":"

logging.addLevelName(AUDIT, "AUDIT")

_LOGGERS = {}


def get_logger(name, log_level="debug"):
    """A logger writing to stderr, like StackStorm's get_logger_for_python_runner_action."""
    logger_name = "actions.python.%s" % name
    if logger_name in _LOGGERS:
        return _LOGGERS[logger_name]
    level = getattr(logging, str(log_level).upper(), None)
    if not isinstance(level, int):
        level = AUDIT if str(log_level).upper() == "AUDIT" else logging.DEBUG
    logger = logging.getLogger(logger_name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    logger.audit = lambda msg, *args, **kwargs: logger.log(AUDIT, msg, *args, **kwargs)
    _LOGGERS[logger_name] = logger
    return logger


class KeyValuePair(object):
    """One datastore item, with the attributes of st2client's KeyValuePair."""

    def __init__(self, **fields):
        self.name = None
        self.value = None
        self.scope = None
        self.secret = False
        self.expire_timestamp = None
        self.__dict__.update(fields)

    def __repr__(self):
        return "<KeyValuePair name=%s, value=%s>" % (self.name, self.value)


class DatastoreError(Exception):
    """The datastore API answered with an error."""


class DatastoreService(object):
    """StackStorm's ActionDatastoreService over Nerve's REST API (urllib, no st2client)."""

    def __init__(self, logger, pack_name, class_name, api_url, auth_token):
        self._logger = logger
        self._pack_name = pack_name
        self._class_name = class_name
        self._api_url = (api_url or "").rstrip("/")
        self._auth_token = auth_token

    # General methods

    def get_user_info(self):
        return self._request("GET", "/user")

    # Datastore methods

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        key_prefix = self._full_prefix(local, prefix)
        query = {}
        if key_prefix:
            query["prefix"] = key_prefix
        if limit:
            query["limit"] = limit
        if offset:
            query["offset"] = offset
        self._logger.debug("Retrieving all the values from the datastore")
        items = self._request("GET", "/keys", query=query) or []
        return [KeyValuePair(**item) for item in items]

    def get_value(self, name, local=True, scope="system", decrypt=False):
        scope = self._scope(scope)
        name = self._full_name(name, local)
        self._logger.debug("Retrieving value from the datastore (name=%s)", name)
        try:
            item = self._request(
                "GET",
                "/keys/" + urllib.parse.quote(name, safe=""),
                query={"scope": scope, "decrypt": "true" if decrypt else "false"},
            )
        except Exception as error:  # StackStorm returns None for any failure.
            if getattr(error, "status", None) != 404:
                self._logger.exception(
                    "Exception retrieving value from datastore (name=%s): %s", name, error
                )
            return None
        if item:
            return item.get("value")
        return None

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        scope = self._scope(scope)
        name = self._full_name(name, local)
        body = {"name": name, "value": str(value), "scope": scope}
        if encrypt:
            body["secret"] = True
        if ttl:
            body["ttl"] = ttl
        self._logger.debug("Setting value in the datastore (name=%s)", name)
        self._request("PUT", "/keys/" + urllib.parse.quote(name, safe=""), body=body)
        return True

    def delete_value(self, name, local=True, scope="system"):
        scope = self._scope(scope)
        name = self._full_name(name, local)
        self._logger.debug("Deleting value from the datastore (name=%s)", name)
        try:
            self._request(
                "DELETE", "/keys/" + urllib.parse.quote(name, safe=""), query={"scope": scope}
            )
        except Exception as error:
            self._logger.exception(
                "Exception deleting value from datastore (name=%s): %s", name, error
            )
            return False
        return True

    # Helpers

    def _scope(self, scope):
        if scope in SYSTEM_SCOPES:
            return "system"
        if scope in USER_SCOPES:
            return "user"
        raise ValueError("Scope %s is unsupported." % scope)

    def _local_prefix(self):
        return "%s.%s%s" % (self._pack_name, self._class_name, KEY_SEPARATOR)

    def _full_name(self, name, local):
        return self._local_prefix() + name if local else name

    def _full_prefix(self, local, prefix):
        if local:
            return self._local_prefix() + (prefix or "")
        return prefix

    def _request(self, method, path, query=None, body=None):
        if not self._api_url:
            raise DatastoreError(
                "the datastore is not available: ST2_ACTION_API_URL is not set for this action"
            )
        base = self._api_url
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        url = base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = {"Accept": "application/json"}
        if self._auth_token:
            headers["X-Auth-Token"] = self._auth_token
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            failure = DatastoreError("%s %s failed with %s: %s" % (method, path, error.code, detail))
            failure.status = error.code
            raise failure
        if not payload:
            return None
        return json.loads(payload.decode("utf-8"))


class ActionService(object):
    """What an action reaches through `self.action_service`."""

    def __init__(self, wrapper):
        self._wrapper = wrapper
        self._datastore_service = None

    @property
    def datastore_service(self):
        if self._datastore_service is None:
            wrapper = self._wrapper
            self._datastore_service = DatastoreService(
                logger=get_logger(wrapper.class_name, wrapper.log_level),
                pack_name=wrapper.pack,
                class_name=wrapper.class_name,
                api_url=os.environ.get("ST2_ACTION_API_URL"),
                auth_token=os.environ.get("ST2_ACTION_AUTH_TOKEN"),
            )
        return self._datastore_service

    def get_user_info(self):
        return self.datastore_service.get_user_info()

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        return self.datastore_service.list_values(local, prefix, limit, offset)

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return self.datastore_service.get_value(name, local, scope=scope, decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        return self.datastore_service.set_value(
            name, value, ttl, local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name, local=True, scope="system"):
        return self.datastore_service.delete_value(name, local, scope=scope)


_LOG_LEVEL = "debug"


class Action(object, metaclass=abc.ABCMeta):
    """StackStorm's st2common.runners.base_action.Action."""

    description = None

    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        self.logger = get_logger(self.__class__.__name__, _LOG_LEVEL)

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError()


def _install_module(name, **attributes):
    module = types.ModuleType(name)
    module.__path__ = []  # a package, so that missing submodules fail with a clear name
    module.__dict__.update(attributes)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def install_shims():
    """Makes `from st2common.runners.base_action import Action` (and the legacy
    `st2actions.runners.pythonrunner`) importable."""
    Action.__module__ = "st2common.runners.base_action"
    _install_module("st2common")
    _install_module("st2common.runners")
    _install_module("st2common.runners.base_action", Action=Action)
    _install_module("st2actions")
    _install_module("st2actions.runners")
    _install_module("st2actions.runners.pythonrunner", Action=Action)


def load_action_class(file_path):
    """Imports the action file and returns its action class (the alphabetically first class
    defined in it that subclasses Action, else that has a `run` method, as StackStorm's loader)."""
    directory = os.path.dirname(os.path.realpath(file_path))
    if directory not in sys.path:
        sys.path.append(directory)
    module_name = os.path.splitext(os.path.basename(file_path))[0]
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    if spec is None or spec.loader is None:
        raise Exception('File "%s" is not a Python module.' % file_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
    ]
    actions = [cls for cls in classes if issubclass(cls, Action)]
    if not actions:
        actions = [cls for cls in classes if callable(getattr(cls, "run", None))]
    if not actions:
        raise Exception('File "%s" has no action class or the file doesn\'t exist.' % file_path)
    return actions[0]


def instantiate(action_cls, config, action_service):
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as error:
        if "action_service" not in str(error):
            raise
    # An old action whose constructor only takes `config`.
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance


class Wrapper(object):
    def __init__(self, pack, file_path, config, parameters, log_level):
        self.pack = pack
        self.file_path = file_path
        self.config = config
        self.parameters = parameters
        self.log_level = log_level
        self.class_name = None

    def run(self):
        action_cls = load_action_class(self.file_path)
        self.class_name = action_cls.__name__
        instance = instantiate(action_cls, self.config, ActionService(self))
        output = instance.run(**self.parameters)

        status = None
        result = output
        if isinstance(output, tuple) and len(output) == 2:
            status, result = output
        if status is not None and not isinstance(status, bool):
            sys.stderr.write(
                "Status returned from the action run() method must either be True or False, "
                "got: %s\n" % (status,)
            )
            sys.exit(INVALID_STATUS_EXIT_CODE)

        try:
            serialized = json.dumps({"result": result, "status": status})
        except (TypeError, ValueError):
            serialized = json.dumps({"result": str(result), "status": status})

        sys.stdout.flush()
        sys.stdout.write(RESULT_DELIMITER)
        sys.stdout.write(serialized + "\n")
        sys.stdout.write(RESULT_DELIMITER)
        sys.stdout.flush()


def main():
    global _LOG_LEVEL
    parser = argparse.ArgumentParser(description="Nerve Python action wrapper")
    parser.add_argument("--pack", required=True)
    parser.add_argument("--file-path", required=True)
    args = parser.parse_args()

    data = json.loads(sys.stdin.read() or "{}")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError("Pack config needs to be a dictionary")
    parameters = data.get("parameters") or {}
    _LOG_LEVEL = data.get("log_level") or "debug"

    install_shims()
    Wrapper(args.pack, args.file_path, config, parameters, _LOG_LEVEL).run()


main()
