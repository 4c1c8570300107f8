"""Nerve's Python sensor SDK: runs an unmodified StackStorm Python sensor over the Nerve sensor
protocol (newline-delimited JSON, see sensors/PROTOCOL.md).

How it is started
-----------------
The file is embedded in the nerve binary; the sensor host starts one process per sensor as

    python3 -u -c <source of this file> --file-path=/abs/pack/sensors/x.py --class-name=MySensor

with the pack's ``sensors/`` directory as working directory. stdin and stdout are the protocol
channel (host -> sensor and sensor -> host); stderr is the sensor's log. Standard library only;
Python 3.8 or newer.

What it does
------------
1. Reads the host's ``hello`` line. A protocol version other than 1 is answered with an ``error``
   message and exit code 2.
2. Installs importable shim modules, so that StackStorm imports work unchanged:
   ``st2reactor.sensor.base`` (``BaseSensor``, ``Sensor``, ``PollingSensor``),
   ``st2common.util.concurrency`` (``sleep``, ``spawn``, ``wait``, ``kill``, ``cancel``,
   ``get_subprocess_module``, ``subprocess_popen``) and ``st2common.constants.keyvalue``.
3. Puts the sensor file's directory and the pack's ``lib/`` directory on ``sys.path``, imports the
   file, and instantiates the class as StackStorm does: ``cls(sensor_service=..., config=<pack
   config>)``, plus ``poll_interval=`` (from ``hello``) for ``PollingSensor`` subclasses.
   Any failure is reported as an ``error`` message (exit code 1).
4. Calls ``setup()``, sends ``ready`` (promising a heartbeat every 5 s), then runs ``run()`` in the
   main thread. ``add_trigger`` / ``update_trigger`` / ``remove_trigger`` are called from a separate
   thread, concurrently with ``run()``, as StackStorm's trigger watcher does.
5. ``shutdown`` from the host, end of stdin, SIGTERM or SIGINT call ``cleanup()`` and exit 0;
   ``run()`` returning does the same; ``run()`` raising sends ``error`` and exits 1.

The ``sensor_service`` (StackStorm's ``SensorService``)
-------------------------------------------------------
* ``get_logger(name)``: a ``logging.Logger`` (``SensorWrapper.<pack>.<Class>.<name>``) whose
  records become protocol ``log`` messages.
* ``dispatch(trigger, payload=None, trace_tag=None)`` and
  ``dispatch_with_context(trigger, payload=None, trace_context=None)``: ``trigger`` is a ref
  string or a trigger dict (its ``ref`` is used); a dispatch the host refuses comes back as a
  ``rejected`` message, which is logged as a warning.
* ``get_user_info()``.
* The datastore: ``list_values(local=True, prefix=None, limit=None, offset=None)``,
  ``get_value(name, local=True, scope="system", decrypt=False)``,
  ``set_value(name, value, ttl=None, local=True, scope="system", encrypt=False)``,
  ``delete_value(name, local=True, scope="system")``. They are ``kv_*`` requests answered by
  the host's ``reply``; ``local=True`` keys are scoped to the sensor (``<pack>.<Class>:<name>``)
  by the host. Only the system scope exists for sensors (anything else raises ``ValueError``).

Anything the sensor writes to stdout (``print()``, child processes) goes to stderr instead, so
it cannot corrupt the protocol; child processes get /dev/null as stdin.

Tuning (environment, mostly for tests): ``NERVE_SENSOR_HEARTBEAT_INTERVAL`` (seconds, default
5), ``NERVE_SENSOR_REQUEST_TIMEOUT`` (seconds a datastore request waits for its reply, default
30; then it raises ``DatastoreTimeout``), ``NERVE_SENSOR_CLEANUP_TIMEOUT`` (seconds ``cleanup()``
may take at shutdown, default 30).
"""

import sys

# `-c` puts the working directory first on sys.path; a sensor's cwd must not shadow modules.
if sys.path and sys.path[0] == "":
    del sys.path[0]

import abc
import argparse
import datetime
import importlib.util
import inspect
import io
import itertools
import json
import logging
import math
import os
import queue
import signal
import subprocess
import threading
import time
import traceback
import types

PROTOCOL_VERSION = 1
SDK_NAME = "this Python sensor SDK"


def _env_float(name, default):
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if 0 < value < 86400 else default


# Seconds between heartbeats (promised in `ready`); the host restarts a sensor after ~3 missed.
HEARTBEAT_INTERVAL = _env_float("NERVE_SENSOR_HEARTBEAT_INTERVAL", 5)
# Seconds a datastore request waits for the host's reply.
REQUEST_TIMEOUT = _env_float("NERVE_SENSOR_REQUEST_TIMEOUT", 30)
# Seconds `cleanup()` may take before the process exits anyway.
CLEANUP_TIMEOUT = _env_float("NERVE_SENSOR_CLEANUP_TIMEOUT", 30)

SYSTEM_SCOPE = "system"
FULL_SYSTEM_SCOPE = "st2kv.system"
USER_SCOPE = "user"
FULL_USER_SCOPE = "st2kv.user"
SYSTEM_SCOPES = (SYSTEM_SCOPE, FULL_SYSTEM_SCOPE)
DATASTORE_KEY_SEPARATOR = ":"
AUDIT = 60
logging.addLevelName(AUDIT, "AUDIT")

MAX_ERROR_CHARS = 8000


# --------------------------------------------------------------------------------------------
# The protocol channel
# --------------------------------------------------------------------------------------------


def _json_default(value):
    """Makes common non-JSON values of payloads serializable instead of failing the dispatch."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    return str(value)


class Channel(object):
    """stdin/stdout as the protocol: every `send` writes exactly one line, atomically."""

    def __init__(self, in_fd, out_fd):
        self._reader = io.open(in_fd, "rb", buffering=io.DEFAULT_BUFFER_SIZE, closefd=True)
        self._out_fd = out_fd
        self._lock = threading.Lock()
        self.broken = False
        self.on_broken = None

    def send(self, message):
        """Sends one message; raises TypeError/ValueError when it cannot be encoded as JSON."""
        line = json.dumps(message, default=_json_default, allow_nan=False, separators=(",", ":"))
        data = (line + "\n").encode("utf-8")
        with self._lock:
            if self.broken:
                return False
            try:
                view = memoryview(data)
                while view:
                    written = os.write(self._out_fd, view)
                    view = view[written:]
            except OSError:
                # The host is gone (EPIPE); nobody reads what we write any more.
                self.broken = True
                callback = self.on_broken
            else:
                return True
        if callback is not None:
            callback()
        return False

    def read_message(self):
        """The next message from the host: a dict, None at end of input, or a str that says why
        the line is not a message."""
        while True:
            try:
                line = self._reader.readline()
            except (OSError, ValueError):
                return None
            if not line:
                return None
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                message = json.loads(text)
            except ValueError as error:
                return "not JSON (%s): %s" % (error, text[:200])
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                return "no `type` field: %s" % text[:200]
            return message


def _take_over_stdio():
    """Keeps private copies of stdin/stdout for the protocol, and points file descriptors 0 and 1
    (and sys.stdin/sys.stdout) away from it: stray writes to stdout land on stderr, and child
    processes cannot read the host's messages."""
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = io.open(0, "r", closefd=False)
    sys.stdout = sys.stderr
    return Channel(in_fd, out_fd)


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------

_LEVEL_NAMES = (
    (logging.CRITICAL, "critical"),
    (logging.ERROR, "error"),
    (logging.WARNING, "warning"),
    (logging.INFO, "info"),
)


def _level_name(levelno):
    if levelno == AUDIT:
        return "info"
    for threshold, name in _LEVEL_NAMES:
        if levelno >= threshold:
            return name
    return "debug"


class ProtocolLogHandler(logging.Handler):
    """Sends log records to the host as `log` messages."""

    def __init__(self, channel, level=logging.NOTSET):
        logging.Handler.__init__(self, level)
        self._channel = channel
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        try:
            message = self.format(record)
            self._channel.send(
                {
                    "type": "log",
                    "level": _level_name(record.levelno),
                    "message": message,
                    "logger": record.name,
                }
            )
        except Exception:  # logging must never take the sensor down
            self.handleError(record)


# --------------------------------------------------------------------------------------------
# StackStorm's sensor base classes (st2reactor/sensor/base.py)
# --------------------------------------------------------------------------------------------


class BaseSensor(object, metaclass=abc.ABCMeta):
    """Base class for all the sensors."""

    def __init__(self, sensor_service, config=None):
        """
        :param sensor_service: Sensor Service instance.
        :type sensor_service: ``st2reactor.container.sensor_wrapper.SensorService``

        :keyword config: Sensor config.
        :type config: ``dict`` or None
        """
        self._sensor_service = sensor_service  # Deprecate in the future
        self.sensor_service = sensor_service
        self._config = config or {}  # Deprecate in the future
        self.config = self._config

    @abc.abstractmethod
    def setup(self):
        """Run the sensor initialization / setup code (if any)."""
        pass

    @abc.abstractmethod
    def run(self):
        """Run the sensor."""
        pass

    @abc.abstractmethod
    def cleanup(self):
        """Run the sensor cleanup code (if any)."""
        pass

    @abc.abstractmethod
    def add_trigger(self, trigger):
        """Runs when trigger is created."""
        pass

    @abc.abstractmethod
    def update_trigger(self, trigger):
        """Runs when trigger is updated."""
        pass

    @abc.abstractmethod
    def remove_trigger(self, trigger):
        """Runs when trigger is deleted."""
        pass


class Sensor(BaseSensor):
    """Base class to be inherited from by the passive sensors."""

    @abc.abstractmethod
    def run(self):
        pass


class PollingSensor(BaseSensor):
    """Base class to be inherited from by the active sensors.

    Active sensors periodically poll a 3rd party system for new information.
    """

    def __init__(self, sensor_service, config=None, poll_interval=5):
        super(PollingSensor, self).__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self):
        """Poll 3rd party system for new information."""
        pass

    def run(self):
        while True:
            self.poll()
            _concurrency_sleep(self._poll_interval)

    def get_poll_interval(self):
        """Retrieve current poll interval.

        :return: Current poll interval.
        :rtype: ``float``
        """
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        """Set the poll interval.

        :param poll_interval: Poll interval to use.
        :type poll_interval: ``float``
        """
        self._poll_interval = poll_interval


# --------------------------------------------------------------------------------------------
# st2common.util.concurrency, with threads instead of eventlet green threads
# --------------------------------------------------------------------------------------------


def _concurrency_sleep(*args, **kwargs):
    return time.sleep(*args, **kwargs)


class _SpawnedThread(object):
    """What `concurrency.spawn` returns: enough of a green thread to `wait()` for its result."""

    def __init__(self, func, args, kwargs):
        self._result = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(func, args, kwargs))
        self._thread.daemon = True
        self._thread.start()

    def _run(self, func, args, kwargs):
        try:
            self._result = func(*args, **kwargs)
        except BaseException as error:  # re-raised by wait()
            self._error = error

    def wait(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def kill(self, *args, **kwargs):
        """Threads cannot be killed; the thread runs to its end (a daemon thread)."""

    cancel = kill

    def dead(self):
        return not self._thread.is_alive()


def _concurrency_spawn(func, *args, **kwargs):
    return _SpawnedThread(func, args, kwargs)


def _concurrency_wait(green_thread, *args, **kwargs):
    return green_thread.wait(*args, **kwargs)


def _concurrency_kill(green_thread, *args, **kwargs):
    return green_thread.kill(*args, **kwargs)


def _concurrency_cancel(green_thread, *args, **kwargs):
    return green_thread.cancel(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# The sensor service
# --------------------------------------------------------------------------------------------


class DatastoreError(Exception):
    """A datastore request failed: the host answered with an error, or is gone."""


class DatastoreTimeout(DatastoreError):
    """The host did not answer a datastore request in time."""


class KeyValuePair(object):
    """One datastore item, with the attributes of st2client's KeyValuePair."""

    def __init__(self, **fields):
        self.name = None
        self.value = None
        self.secret = False
        self.expire_timestamp = None
        self.scope = SYSTEM_SCOPE
        self.__dict__.update(fields)

    def to_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return "<KeyValuePair name=%s,value=%s>" % (self.name, self.value)


class _Requests(object):
    """Requests that wait for the host's `reply`."""

    def __init__(self, channel):
        self._channel = channel
        self._lock = threading.Lock()
        self._pending = {}
        self._ids = itertools.count(1)
        self._closed = None

    def call(self, message, timeout=None):
        """Sends `message` with a fresh `id` and returns the reply's `value`; raises
        DatastoreError when the reply is not ok, does not arrive in time, or cannot arrive."""
        timeout = REQUEST_TIMEOUT if timeout is None else timeout
        waiter = {"event": threading.Event(), "reply": None}
        with self._lock:
            if self._closed is not None:
                raise DatastoreError("%s request failed: %s" % (message.get("type"), self._closed))
            request_id = str(next(self._ids))
            self._pending[request_id] = waiter
        message = dict(message, id=request_id)
        try:
            if not self._channel.send(message):
                raise DatastoreError("%s request failed: the sensor host is gone" % message["type"])
            if not waiter["event"].wait(timeout):
                raise DatastoreTimeout(
                    "%s request %s got no reply from the sensor host within %g s"
                    % (message["type"], request_id, timeout)
                )
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        reply = waiter["reply"]
        if reply.get("closed"):
            raise DatastoreError("%s request failed: %s" % (message["type"], reply["closed"]))
        if not reply.get("ok"):
            raise DatastoreError(
                "%s request failed: %s"
                % (message["type"], reply.get("error") or "the sensor host refused it")
            )
        return reply.get("value")

    def resolve(self, reply):
        """Hands a `reply` to its waiting caller; False when nobody waits for it."""
        with self._lock:
            waiter = self._pending.get(str(reply.get("id")))
        if waiter is None:
            return False
        waiter["reply"] = reply
        waiter["event"].set()
        return True

    def close(self, why):
        """Fails every waiting and future request."""
        with self._lock:
            self._closed = why
            waiters = list(self._pending.values())
        for waiter in waiters:
            waiter["reply"] = {"closed": why}
            waiter["event"].set()


def _validate_scope(scope):
    if scope not in SYSTEM_SCOPES:
        raise ValueError("Scope %s is unsupported." % scope)


def _trigger_ref(trigger):
    """The ref a dispatch names: a ref string, or the `ref` of a trigger dict."""
    if isinstance(trigger, str):
        return trigger
    if isinstance(trigger, dict):
        if trigger.get("ref"):
            return str(trigger["ref"])
        if trigger.get("pack") and trigger.get("name"):
            return "%s.%s" % (trigger["pack"], trigger["name"])
        if trigger.get("type"):
            return str(trigger["type"])
        raise ValueError("trigger dict %r has no `ref`" % (trigger,))
    ref = getattr(trigger, "ref", None)
    if ref:
        return str(ref)
    raise TypeError("trigger must be a trigger ref string or a trigger dict, got %r" % (trigger,))


def _trace_tag(trace_context):
    if trace_context is None:
        return None
    if isinstance(trace_context, dict):
        tag = trace_context.get("trace_tag")
    else:
        tag = getattr(trace_context, "trace_tag", None)
    return None if tag is None else str(tag)


class SensorService(object):
    """StackStorm's SensorService (st2reactor/container/sensor_wrapper.py) over the protocol."""

    def __init__(self, wrapper):
        self._sensor_wrapper = wrapper
        self._logger = wrapper.logger
        self._requests = wrapper.requests

    # General methods

    def get_logger(self, name):
        """Retrieve an instance of a logger to be used by the sensor class."""
        return self._sensor_wrapper.get_logger(name)

    @property
    def datastore_service(self):
        return self

    def get_user_info(self):
        """Information about the user the sensor acts as (StackStorm's `GET /user`)."""
        return {
            "username": "sensor_service",
            "authentication": {"method": "authentication token", "location": "header"},
            "rbac": {"enabled": False, "roles": [], "is_admin": True},
        }

    # Sensor API methods

    def dispatch(self, trigger, payload=None, trace_tag=None):
        """Method which dispatches the trigger.

        :param trigger: Reference to the TriggerTypeDB (<pack>.<name>) or TriggerDB object.
        :param payload: Trigger payload.
        :type payload: ``dict``
        :param trace_tag: Tracer to track the triggerinstance.
        :type trace_tag: ``str``
        """
        trace_context = {"trace_tag": trace_tag} if trace_tag else None
        return self.dispatch_with_context(trigger, payload=payload, trace_context=trace_context)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        """Method which dispatches the trigger.

        :param trigger: Reference to the TriggerTypeDB (<pack>.<name>) or TriggerDB object.
        :param payload: Trigger payload.
        :type payload: ``dict``
        :param trace_context: Trace context to associate with Trigger (a dict with `trace_tag`,
            or StackStorm's TraceContext).
        """
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise TypeError(
                "payload must be a dict, got %s: %r" % (type(payload).__name__, payload)
            )
        message = {"type": "dispatch", "trigger": _trigger_ref(trigger), "payload": payload}
        tag = _trace_tag(trace_context)
        if tag:
            message["trace_tag"] = tag
        try:
            self._sensor_wrapper.channel.send(message)
        except (TypeError, ValueError) as error:
            raise ValueError(
                "payload for trigger %s is not JSON-serializable: %s" % (message["trigger"], error)
            )

    def dispatch_checked(self, trigger, payload=None, trace_tag=None, timeout=None):
        """Nerve extension: dispatches and waits until the host has recorded the event.

        Returns the id of the recorded trigger instance. Raises ``DatastoreError`` when the
        host refused the event (the message says why) and ``DatastoreTimeout`` when no answer
        came in time (then whether it was recorded is unknown). A sensor that must not lose
        an event it has marked as sent (a cursor, a seen-set) marks it only after this returns.
        StackStorm has no such call; a sensor meant for both checks with
        ``getattr(sensor_service, "dispatch_checked", None)``.
        """
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise TypeError(
                "payload must be a dict, got %s: %r" % (type(payload).__name__, payload)
            )
        message = {"type": "dispatch", "trigger": _trigger_ref(trigger), "payload": payload}
        if trace_tag:
            message["trace_tag"] = str(trace_tag)
        value = self._requests.call(message, timeout=timeout)
        if isinstance(value, dict):
            return value.get("trigger_instance")
        return value

    # Datastore methods

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        """Retrieve all the datastores items.

        :param local: List values from a namespace local to this sensor. Defaults to True.
        :param prefix: Optional key name prefix / startswith filter.
        :rtype: ``list`` of ``KeyValuePair``
        """
        message = {"type": "kv_list", "local": bool(local)}
        if prefix is not None:
            message["prefix"] = str(prefix)
        if limit is not None:
            message["limit"] = int(limit)
        if offset:
            message["offset"] = int(offset)
        entries = self._requests.call(message) or []
        return [KeyValuePair(**entry) for entry in entries if isinstance(entry, dict)]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        """Retrieve a value from the datastore for the provided key.

        :return: The value (a string), or None when the key does not exist (or could not be read).
        """
        _validate_scope(scope)
        message = {
            "type": "kv_get",
            "key": str(name),
            "local": bool(local),
            "decrypt": bool(decrypt),
        }
        try:
            value = self._requests.call(message)
        except DatastoreTimeout:
            raise
        except DatastoreError as error:
            # As StackStorm: a failed lookup is logged and reads as "no value".
            self._logger.exception(
                "Exception retrieving value from datastore (name=%s): %s", name, error
            )
            return None
        return None if value is None else str(value)

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        """Set a value for the provided key.

        :param ttl: Optional TTL (in seconds).
        :return: ``True`` on success.
        """
        _validate_scope(scope)
        message = {
            "type": "kv_set",
            "key": str(name),
            "value": str(value),
            "local": bool(local),
            "encrypt": bool(encrypt),
        }
        if ttl:
            seconds = float(ttl)
            if seconds < 0:
                raise ValueError("ttl must be a positive number of seconds, got %r" % (ttl,))
            message["ttl"] = int(math.ceil(seconds))
        self._requests.call(message)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        """Delete the provided key.

        :return: ``True`` if the key existed and was deleted, ``False`` otherwise.
        """
        _validate_scope(scope)
        message = {"type": "kv_delete", "key": str(name), "local": bool(local)}
        try:
            existed = self._requests.call(message)
        except DatastoreTimeout:
            raise
        except DatastoreError as error:
            self._logger.exception(
                "Exception deleting value from datastore (name=%s): %s", name, error
            )
            return False
        return bool(existed)


# --------------------------------------------------------------------------------------------
# Shim modules
# --------------------------------------------------------------------------------------------


def _install_module(name, **attributes):
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so that missing submodules fail with a clear name
        sys.modules[name] = module
    module.__dict__.update(attributes)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def install_shims():
    """Makes `from st2reactor.sensor.base import PollingSensor` (and friends) importable."""
    for cls in (BaseSensor, Sensor, PollingSensor):
        cls.__module__ = "st2reactor.sensor.base"
    _install_module("st2reactor")
    _install_module("st2reactor.sensor")
    _install_module(
        "st2reactor.sensor.base",
        BaseSensor=BaseSensor,
        Sensor=Sensor,
        PollingSensor=PollingSensor,
        concurrency=None,  # set below, as StackStorm's module imports it
    )
    _install_module("st2common")
    _install_module("st2common.util")
    concurrency = _install_module(
        "st2common.util.concurrency",
        sleep=_concurrency_sleep,
        spawn=_concurrency_spawn,
        wait=_concurrency_wait,
        kill=_concurrency_kill,
        cancel=_concurrency_cancel,
        get_subprocess_module=lambda: subprocess,
        subprocess_popen=subprocess.Popen,
        get_concurrency_library=lambda: "threading",
    )
    sys.modules["st2reactor.sensor.base"].concurrency = concurrency
    _install_module("st2common.constants")
    _install_module(
        "st2common.constants.keyvalue",
        SYSTEM_SCOPE=SYSTEM_SCOPE,
        FULL_SYSTEM_SCOPE=FULL_SYSTEM_SCOPE,
        USER_SCOPE=USER_SCOPE,
        FULL_USER_SCOPE=FULL_USER_SCOPE,
        DATASTORE_KEY_SEPARATOR=DATASTORE_KEY_SEPARATOR,
    )


def add_pack_paths(file_path):
    """The sensor's directory and the pack's `lib/` go first on sys.path (siblings import)."""
    sensor_dir = os.path.dirname(os.path.abspath(file_path))
    lib_dir = os.path.join(os.path.dirname(sensor_dir), "lib")
    paths = [sensor_dir]
    if os.path.isdir(lib_dir):
        paths.append(lib_dir)
    for path in reversed(paths):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def load_sensor_class(file_path, class_name):
    """Imports the sensor file and returns the class named `class_name`."""
    if not os.path.isfile(file_path):
        raise IOError('sensor file "%s" does not exist' % file_path)
    module_name = os.path.splitext(os.path.basename(file_path))[0]
    if module_name in sys.modules:
        module_name = "nerve_sensor_module_%s" % module_name
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    if spec is None or spec.loader is None:
        raise ImportError('File "%s" is not a Python module.' % file_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    sensor_class = getattr(module, class_name, None)
    if sensor_class is None:
        raise ValueError(
            'Sensor module "%s" is missing a class with name "%s"' % (file_path, class_name)
        )
    if not inspect.isclass(sensor_class):
        raise TypeError('"%s" in "%s" is not a class' % (class_name, file_path))
    if not issubclass(sensor_class, BaseSensor) and not callable(
        getattr(sensor_class, "run", None)
    ):
        raise TypeError(
            'Class "%s" in "%s" is not a sensor (no Sensor/PollingSensor base class and no '
            "run() method)" % (class_name, file_path)
        )
    return sensor_class


def _normalize_interval(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _exception_summary(context, error, tb=None):
    """`context: Type: message` followed by the (shortened) traceback."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    details = "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))
    summary = "%s: %s" % (context, text)
    if details:
        summary += "\n" + details.rstrip()
    if len(summary) > MAX_ERROR_CHARS:
        summary = summary[: MAX_ERROR_CHARS // 2] + "\n...\n" + summary[-MAX_ERROR_CHARS // 2 :]
    return summary


# --------------------------------------------------------------------------------------------
# The wrapper
# --------------------------------------------------------------------------------------------


class SensorWrapper(object):
    """Runs one sensor instance: the protocol side of StackStorm's sensor_wrapper.py."""

    def __init__(self, channel, file_path, class_name):
        self.channel = channel
        self.file_path = file_path
        self.class_name = class_name
        self.pack = None
        self.hello = None
        self.instance = None
        self.requests = _Requests(channel)
        self.logger = logging.getLogger("SensorWrapper")
        self._log_handler = ProtocolLogHandler(channel)
        self._loggers = {}
        self._triggers = queue.Queue()
        self._setup_done = threading.Event()  # setup() succeeded: triggers may be delivered
        self._setup_finished = threading.Event()  # setup() returned or raised
        # Re-entrant: the signal handler runs in the main thread, which may hold it.
        self._shutdown_lock = threading.RLock()
        self._shutting_down = False
        channel.on_broken = lambda: self.begin_shutdown("the sensor host closed stdout")

    # Messages

    def send_error(self, message):
        sys.stderr.write(message.rstrip() + "\n")
        sys.stderr.flush()
        self.channel.send({"type": "error", "message": message})

    def get_logger(self, name):
        logger_name = "%s.%s" % (self.logger.name, name)
        logger = self._loggers.get(logger_name)
        if logger is None:
            logger = logging.getLogger(logger_name)
            logger.audit = lambda msg, *args, **kwargs: logger.log(AUDIT, msg, *args, **kwargs)
            self._loggers[logger_name] = logger
        return logger

    def _setup_logging(self):
        self.logger = logging.getLogger("SensorWrapper.%s.%s" % (self.pack, self.class_name))
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self._log_handler)
        # Plain `logging.getLogger(__name__)` loggers of the sensor reach the host too.
        root = logging.getLogger()
        root.addHandler(self._log_handler)
        if root.level == logging.WARNING:
            root.setLevel(logging.INFO)

    # The handshake

    def read_hello(self):
        """Reads and checks `hello`; returns the exit code to exit with, or None to go on."""
        message = self.channel.read_message()
        if message is None:
            self.send_error("the sensor host closed stdin before sending hello")
            return 1
        if not isinstance(message, dict):
            self.send_error(
                "expected a hello message from the sensor host, got a line that is %s" % message
            )
            return 1
        if message.get("type") != "hello":
            self.send_error(
                "expected a hello message from the sensor host, got `%s`" % message.get("type")
            )
            return 1
        version = message.get("protocol")
        if version != PROTOCOL_VERSION or isinstance(version, bool):
            self.send_error(
                "protocol version mismatch: host speaks %s, %s speaks %d"
                % (version, SDK_NAME, PROTOCOL_VERSION)
            )
            return 2
        self.hello = message
        self.pack = message.get("pack") or "unknown"
        return None

    def instantiate(self, sensor_class):
        config = self.hello.get("config")
        if config is None:
            config = {}
        kwargs = {"sensor_service": SensorService(self), "config": config}
        poll_interval = self.hello.get("poll_interval")
        if poll_interval and issubclass(sensor_class, PollingSensor):
            kwargs["poll_interval"] = _normalize_interval(poll_interval)
        return sensor_class(**kwargs)

    # Threads

    def _read_loop(self):
        """Routes host messages until stdin ends."""
        while True:
            message = self.channel.read_message()
            if message is None:
                self.requests.close("the sensor host closed stdin")
                self.begin_shutdown("end of stdin")
                return
            if not isinstance(message, dict):
                self.logger.warning("ignoring a line from the sensor host that is %s", message)
                continue
            kind = message.get("type")
            if kind == "reply":
                if not self.requests.resolve(message):
                    self.logger.debug("ignoring a reply to unknown request %s", message.get("id"))
            elif kind in ("add_trigger", "update_trigger", "remove_trigger"):
                self._triggers.put((kind, message.get("trigger")))
            elif kind == "rejected":
                reason = message.get("reason") or "no reason given"
                self.logger.warning(
                    'The sensor host rejected a dispatch to trigger "%s": %s',
                    message.get("trigger"),
                    reason,
                )
                if message.get("id") is not None:
                    self.requests.resolve({"id": message.get("id"), "ok": False, "error": reason})
            elif kind == "shutdown":
                self.begin_shutdown("the sensor host asked to shut down")
            else:
                self.logger.debug("ignoring a `%s` message from the sensor host", kind)

    def _trigger_loop(self):
        """Calls add_trigger/update_trigger/remove_trigger, once setup() is done."""
        self._setup_done.wait()
        while True:
            kind, trigger = self._triggers.get()
            if kind == "stop" or self._shutting_down:
                return
            method = getattr(self.instance, kind, None)
            if method is None:
                continue
            try:
                method(trigger)
            except Exception:
                ref = trigger.get("ref") if isinstance(trigger, dict) else trigger
                self.logger.exception(
                    'Sensor "%s" failed in %s for trigger "%s"', self.class_name, kind, ref
                )

    def _heartbeat_loop(self):
        while True:
            time.sleep(HEARTBEAT_INTERVAL)
            self.channel.send({"type": "heartbeat"})

    def _start_thread(self, target, name):
        thread = threading.Thread(target=target, name=name)
        thread.daemon = True
        thread.start()
        return thread

    # Shutting down

    def _claim_shutdown(self):
        """True for the one caller that gets to shut the sensor down."""
        with self._shutdown_lock:
            if self._shutting_down:
                return False
            self._shutting_down = True
            return True

    def begin_shutdown(self, reason):
        """Calls cleanup() and exits 0, in a thread of its own (run() may be blocked, and
        cleanup() may use the datastore, whose replies the reader thread delivers)."""
        if not self._claim_shutdown():
            return False
        self._start_thread(lambda: self._finish(0, reason), "nerve-sensor-shutdown")
        return True

    def _finish(self, code, reason):
        self.logger.debug("Shutting down: %s", reason)
        self._triggers.put(("stop", None))  # releases the trigger thread
        if self.instance is not None and not self._setup_finished.wait(CLEANUP_TIMEOUT):
            self.logger.warning(
                'Sensor "%s" did not finish setup() within %g s; exiting without cleanup()',
                self.class_name,
                CLEANUP_TIMEOUT,
            )
            _exit(code)
        self._cleanup()
        _exit(code)

    def _cleanup(self):
        instance = self.instance
        if instance is None or not callable(getattr(instance, "cleanup", None)):
            return
        done = threading.Event()

        def run_cleanup():
            try:
                instance.cleanup()
            except Exception:
                self.logger.exception('Sensor "%s" failed in cleanup()', self.class_name)
            finally:
                done.set()

        self._start_thread(run_cleanup, "nerve-sensor-cleanup")
        if not done.wait(CLEANUP_TIMEOUT):
            self.logger.warning(
                'Sensor "%s" did not finish cleanup() within %g s; exiting anyway',
                self.class_name,
                CLEANUP_TIMEOUT,
            )

    def _on_signal(self, signum, frame):
        if not self.begin_shutdown("signal %d" % signum):
            _exit(128 + signum)  # a second signal while cleanup() runs: leave now

    def _wait_for_shutdown(self):
        """Blocks the main thread while a shutdown under way finishes (it exits the process)."""
        while True:
            time.sleep(3600)

    def _fail(self, context, error):
        """Reports a failure of the sensor's code as `error`, calls cleanup() and returns exit
        code 1; unless a shutdown is already under way (the failure is then most likely its
        consequence), which is left to finish."""
        if not self._claim_shutdown():
            self._wait_for_shutdown()
        self.send_error(_exception_summary(context, error))
        self._cleanup()
        return 1

    # Main

    def main(self):
        """Runs the sensor; returns the process's exit code."""
        code = self.read_hello()
        if code is not None:
            return code
        self._setup_logging()
        self._start_thread(self._read_loop, "nerve-sensor-reader")
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

        install_shims()
        add_pack_paths(self.file_path)
        try:
            sensor_class = load_sensor_class(self.file_path, self.class_name)
        except BaseException as error:
            return self._fail(
                'Failed to load sensor class "%s" from file "%s"'
                % (self.class_name, self.file_path),
                error,
            )
        try:
            self.instance = self.instantiate(sensor_class)
        except BaseException as error:
            return self._fail('Failed to instantiate "%s" sensor class' % self.class_name, error)

        self._start_thread(self._trigger_loop, "nerve-sensor-triggers")
        try:
            self.instance.setup()
        except BaseException as error:
            self._setup_finished.set()
            return self._fail('Sensor "%s" failed in setup()' % self.class_name, error)
        self._setup_finished.set()
        if self._shutting_down:
            self._wait_for_shutdown()

        self.channel.send(
            {
                "type": "ready",
                "protocol": PROTOCOL_VERSION,
                "heartbeat": _normalize_interval(HEARTBEAT_INTERVAL),
            }
        )
        self._start_thread(self._heartbeat_loop, "nerve-sensor-heartbeat")
        self._setup_done.set()

        try:
            self.instance.run()
        except SystemExit as error:
            if error.code not in (None, 0):
                return self._fail('Sensor "%s" exited from run()' % self.class_name, error)
        except BaseException as error:
            return self._fail('Sensor "%s" failed in run()' % self.class_name, error)
        if not self._claim_shutdown():
            self._wait_for_shutdown()
        self.logger.debug('Sensor "%s" run() returned; exiting', self.class_name)
        self._cleanup()
        return 0


def _exit(code):
    """Exits now, whatever the other threads do (run() may be blocked)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def main():
    parser = argparse.ArgumentParser(description="Nerve Python sensor wrapper")
    parser.add_argument("--file-path", required=True, help="the sensor's Python file")
    parser.add_argument("--class-name", required=True, help="the sensor class in that file")
    args, _unknown = parser.parse_known_args()

    channel = _take_over_stdio()
    wrapper = SensorWrapper(channel, os.path.abspath(args.file_path), args.class_name)
    try:
        code = wrapper.main()
    except BaseException as error:  # a bug of this wrapper: still tell the host why
        try:
            wrapper.send_error(_exception_summary("The Python sensor wrapper failed", error))
        except Exception:
            pass
        code = 1
    _exit(code)


main()
