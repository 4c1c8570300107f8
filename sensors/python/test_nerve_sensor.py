"""Tests of nerve_sensor.py (the Python sensor SDK) and of the examples pack's sensors.

Each test starts the SDK exactly as the sensor host does,
`python3 -u -c <source of nerve_sensor.py> --file-path=... --class-name=...`, with a fake host
that speaks the protocol on the process's stdin/stdout. Sensors under test are written to
temporary pack directories in StackStorm style.

Run: cd sensors/python && python3 -m unittest -v
Standard library only.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_PATH = os.path.join(HERE, "nerve_sensor.py")
REPO = os.path.dirname(os.path.dirname(HERE))
EXAMPLES_PACK = os.path.join(REPO, "packs", "examples")

with open(SDK_PATH) as _f:
    SDK_SOURCE = _f.read()

DEADLINE = 15.0  # seconds any single expected event may take


class FakeHost(object):
    """The host side of the protocol, for one sensor process.

    Every stdout line must be a JSON message (anything else is recorded in `bad_lines`).
    Key-value requests are answered from `kv` (keys scoped `pack.Class:` when `local`),
    unless `kv_mode` is "fail" (error replies) or "silent" (no reply).
    """

    def __init__(self, command, cwd, pack="tests", class_name="S", env=None, kv_mode="auto"):
        self.pack = pack
        self.class_name = class_name
        self.kv = {}
        self.kv_mode = kv_mode
        self.kv_requests = []
        self.messages = queue.Queue()
        self.seen = []
        self.bad_lines = []
        self.stderr_lines = []
        self._write_lock = threading.Lock()
        full_env = dict(os.environ)
        full_env.pop("NERVE_SENSOR_HEARTBEAT_INTERVAL", None)
        full_env.pop("NERVE_SENSOR_REQUEST_TIMEOUT", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._stdout_thread = threading.Thread(target=self._read_stdout)
        self._stderr_thread = threading.Thread(target=self._read_stderr)
        for thread in (self._stdout_thread, self._stderr_thread):
            thread.daemon = True
            thread.start()

    @classmethod
    def python(cls, file_path, class_name, pack="tests", **kwargs):
        command = [
            sys.executable,
            "-u",
            "-c",
            SDK_SOURCE,
            "--file-path=%s" % file_path,
            "--class-name=%s" % class_name,
        ]
        return cls(command, os.path.dirname(file_path), pack=pack, class_name=class_name, **kwargs)

    # IO

    def _read_stdout(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                message = json.loads(line)
                if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                    raise ValueError("not a typed object")
            except ValueError:
                self.bad_lines.append(line)
                continue
            if message["type"].startswith("kv_"):
                self.kv_requests.append(message)
                self._answer_kv(message)
            self.messages.put(message)
        self.messages.put(None)  # end of stdout

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def send(self, message):
        data = (json.dumps(message) + "\n").encode("utf-8")
        with self._write_lock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def close_stdin(self):
        with self._write_lock:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def hello(self, **fields):
        message = {
            "type": "hello",
            "protocol": 1,
            "sensor": "%s.%s" % (self.pack, self.class_name),
            "pack": self.pack,
            "class_name": self.class_name,
            "config": {},
            "trigger_types": [],
            "ready_timeout": 30.0,
        }
        message.update(fields)
        self.send(message)

    # Key-value store

    def _full_key(self, key, local):
        return "%s.%s:%s" % (self.pack, self.class_name, key) if local else key

    def _answer_kv(self, request):
        if self.kv_mode == "silent":
            return
        if self.kv_mode == "fail":
            self.send({"type": "reply", "id": request["id"], "ok": False, "error": "store is down"})
            return
        kind = request["type"]
        local = request.get("local", True)
        value = None
        if kind == "kv_get":
            value = self.kv.get(self._full_key(request["key"], local))
        elif kind == "kv_set":
            if not isinstance(request.get("value"), str):
                self.send(
                    {"type": "reply", "id": request["id"], "ok": False, "error": "not a string"}
                )
                return
            self.kv[self._full_key(request["key"], local)] = request["value"]
            value = True
        elif kind == "kv_delete":
            value = self.kv.pop(self._full_key(request["key"], local), None) is not None
        elif kind == "kv_list":
            prefix = self._full_key(request.get("prefix") or "", local)
            value = [
                {"name": name, "value": item, "secret": False}
                for name, item in sorted(self.kv.items())
                if name.startswith(prefix)
            ]
        self.send({"type": "reply", "id": request["id"], "ok": True, "value": value})

    # Expectations

    def expect(self, kind, where=None, timeout=DEADLINE):
        """The next message of type `kind` (matching `where`), skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    "no %s message within %s s; saw %s; stderr: %s"
                    % (kind, timeout, self.seen[-20:], "\n".join(self.stderr_lines[-30:]))
                )
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                self.messages.put(None)
                raise AssertionError(
                    "stdout ended before a %s message; saw %s; stderr: %s"
                    % (kind, self.seen[-20:], "\n".join(self.stderr_lines[-30:]))
                )
            self.seen.append(message)
            if message["type"] == kind and (where is None or where(message)):
                return message

    def expect_dispatch(self, trigger, timeout=DEADLINE):
        return self.expect("dispatch", lambda m: m["trigger"] == trigger, timeout)

    def expect_log(self, contains, timeout=DEADLINE):
        return self.expect("log", lambda m: contains in m["message"], timeout)

    def wait_exit(self, timeout=DEADLINE):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "the sensor did not exit within %s s; stderr: %s"
                % (timeout, "\n".join(self.stderr_lines[-30:]))
            )

    def stderr_text(self, timeout=5):
        self._stderr_thread.join(timeout)
        return "\n".join(self.stderr_lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except Exception:
                pass


STUB_METHODS = ("setup", "cleanup", "add_trigger", "update_trigger", "remove_trigger")


def with_stubs(source, skip=()):
    """`source` (whose last class is the sensor) plus empty versions of the sensor methods that
    StackStorm declares abstract, except those named in `skip`."""
    stubs = "".join(
        "\n    def %s(self%s):\n        pass\n" % (name, ", trigger" if "trigger" in name else "")
        for name in STUB_METHODS
        if name not in skip
    )
    return textwrap.dedent(source).rstrip() + "\n" + stubs


class SensorTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nerve-sensor-test-")
        self.hosts = []

    def tearDown(self):
        for host in self.hosts:
            host.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_pack(self, files):
        """Writes {relative path: source} under a fresh pack dir; returns the pack dir."""
        pack_dir = os.path.join(self.tmp, "pack")
        for relative, source in files.items():
            path = os.path.join(pack_dir, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(textwrap.dedent(source).lstrip())
        return pack_dir

    def start(self, source, class_name="S", hello=True, extra_files=None, **kwargs):
        """Writes `source` as sensors/sensor.py of a pack and starts it; sends hello (with the
        fields in `hello` when it is a dict)."""
        files = {"sensors/sensor.py": source}
        files.update(extra_files or {})
        pack_dir = self.write_pack(files)
        host = FakeHost.python(os.path.join(pack_dir, "sensors", "sensor.py"), class_name, **kwargs)
        self.hosts.append(host)
        if hello:
            host.hello(**(hello if isinstance(hello, dict) else {}))
        return host

    def assertCleanStdout(self, host):
        self.assertEqual(host.bad_lines, [], "non-protocol lines on stdout")


class PollingSensorTest(SensorTestCase):
    SOURCE = """
        from st2reactor.sensor.base import PollingSensor


        class Counter(PollingSensor):
            def __init__(self, sensor_service, config=None, poll_interval=None):
                super(Counter, self).__init__(
                    sensor_service=sensor_service, config=config, poll_interval=poll_interval
                )
                self._logger = self.sensor_service.get_logger(name=self.__class__.__name__)

            def setup(self):
                self.sensor_service.dispatch(
                    trigger="tests.setup",
                    payload={
                        "interval": self.get_poll_interval(),
                        "config": self.config,
                        "same": self._config is self.config
                        and self._sensor_service is self.sensor_service,
                    },
                )

            def poll(self):
                count = int(self.sensor_service.get_value("count") or 0) + 1
                self.sensor_service.set_value(name="count", value=count)
                self.sensor_service.set_value("global", count, local=False, ttl=1.5)
                self.sensor_service.dispatch(trigger="tests.counted", payload={"count": count})
                if count == 3:
                    self.set_poll_interval(0.1)

            def cleanup(self):
                pass

            def add_trigger(self, trigger):
                pass

            def update_trigger(self, trigger):
                pass

            def remove_trigger(self, trigger):
                pass
    """

    def test_polls_dispatch_and_use_the_datastore(self):
        host = self.start(
            self.SOURCE,
            class_name="Counter",
            hello={"poll_interval": 0.05, "config": {"token": "abc"}},
        )
        # setup() runs (and may dispatch, log and use the datastore) before `ready`.
        setup = host.expect_dispatch("tests.setup")
        self.assertEqual(
            setup["payload"], {"interval": 0.05, "config": {"token": "abc"}, "same": True}
        )
        ready = host.expect("ready")
        self.assertEqual(ready, {"type": "ready", "protocol": 1, "heartbeat": 5})
        counts = [host.expect_dispatch("tests.counted")["payload"]["count"] for _ in range(4)]
        self.assertEqual(counts, [1, 2, 3, 4])
        self.assertEqual(host.kv["tests.Counter:count"], "4")
        self.assertEqual(host.kv["global"], "4")
        gets = [r for r in host.kv_requests if r["type"] == "kv_get"]
        sets = [r for r in host.kv_requests if r["type"] == "kv_set"]
        self.assertTrue(all(r["local"] is True and r["key"] == "count" for r in gets))
        self.assertTrue(all(r["decrypt"] is False for r in gets))
        self.assertIn(
            {
                "type": "kv_set",
                "id": sets[1]["id"],
                "key": "global",
                "value": "1",
                "local": False,
                "encrypt": False,
                "ttl": 2,
            },
            sets,
        )
        self.assertEqual(len({r["id"] for r in host.kv_requests}), len(host.kv_requests))
        host.send({"type": "shutdown"})
        self.assertEqual(host.wait_exit(), 0)
        self.assertCleanStdout(host)

    PLAIN = with_stubs(
        """
        from st2reactor.sensor.base import PollingSensor


        class S(PollingSensor):
            def setup(self):
                self.sensor_service.dispatch("tests.interval", {"i": self.get_poll_interval()})

            def poll(self):
                pass
        """,
        skip=("setup",),
    )

    def test_class_default_poll_interval_without_metadata(self):
        host = self.start(self.PLAIN)
        # Without poll_interval in hello, the class default (PollingSensor's 5) is kept.
        self.assertEqual(host.expect_dispatch("tests.interval")["payload"], {"i": 5})
        host.expect("ready")

    def test_integral_poll_interval_is_passed_as_an_int(self):
        host = self.start(self.PLAIN, hello={"poll_interval": 10.0})
        self.assertEqual(host.expect_dispatch("tests.interval")["payload"], {"i": 10})
        self.assertNotIn(".0", json.dumps(host.seen[-1]["payload"]))


class PassiveSensorTest(SensorTestCase):
    SOURCE = """
        import queue

        from st2reactor.sensor.base import Sensor


        class Watcher(Sensor):
            def setup(self):
                self._events = queue.Queue()
                self._stop = False

            def run(self):
                while not self._stop:
                    try:
                        kind, trigger = self._events.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    self.sensor_service.dispatch(
                        trigger=trigger["ref"],
                        payload={"kind": kind, "parameters": trigger["parameters"]},
                    )

            def cleanup(self):
                self._stop = True

            def add_trigger(self, trigger):
                # The datastore works from the trigger thread too (no deadlock with the reader).
                seen = int(self.sensor_service.get_value("seen") or 0) + 1
                self.sensor_service.set_value("seen", seen)
                self._events.put(("add", trigger))

            def update_trigger(self, trigger):
                self._events.put(("update", trigger))

            def remove_trigger(self, trigger):
                raise RuntimeError("cannot remove " + trigger["id"])
    """

    TRIGGER = {
        "id": "abc123",
        "ref": "tests.abc123",
        "name": "abc123",
        "pack": "tests",
        "type": "tests.watch",
        "parameters": {"path": "/tmp/x"},
    }

    def test_add_and_update_trigger_reach_the_sensor(self):
        host = self.start(self.SOURCE, class_name="Watcher")
        host.expect("ready")
        host.send({"type": "add_trigger", "trigger": self.TRIGGER})
        event = host.expect_dispatch("tests.abc123")
        self.assertEqual(event["payload"], {"kind": "add", "parameters": {"path": "/tmp/x"}})
        self.assertNotIn("trace_tag", event)
        self.assertEqual(host.kv["tests.Watcher:seen"], "1")

        updated = dict(self.TRIGGER, parameters={"path": "/tmp/y"})
        host.send({"type": "update_trigger", "trigger": updated})
        event = host.expect_dispatch("tests.abc123")
        self.assertEqual(event["payload"], {"kind": "update", "parameters": {"path": "/tmp/y"}})

        # An exception in remove_trigger is logged; the sensor lives on.
        host.send({"type": "remove_trigger", "trigger": updated})
        log = host.expect_log("remove_trigger")
        self.assertEqual(log["level"], "error")
        self.assertIn("RuntimeError: cannot remove abc123", log["message"])
        host.send({"type": "add_trigger", "trigger": dict(self.TRIGGER, ref="tests.again")})
        host.expect_dispatch("tests.again")

        host.send({"type": "shutdown"})
        self.assertEqual(host.wait_exit(), 0)
        self.assertCleanStdout(host)

    def test_triggers_sent_before_ready_wait_for_setup(self):
        source = self.SOURCE.replace(
            "self._stop = False", "self._stop = False\n                import time; time.sleep(0.3)"
        )
        host = self.start(source, class_name="Watcher")
        host.send({"type": "add_trigger", "trigger": self.TRIGGER})
        host.expect("ready")
        host.expect_dispatch("tests.abc123")
        self.assertCleanStdout(host)


class DispatchTest(SensorTestCase):
    def test_trace_tags_and_trigger_dicts(self):
        host = self.start(with_stubs("""
            import datetime
            import time

            from st2reactor.sensor.base import Sensor


            class TraceContext(object):
                def __init__(self, trace_tag):
                    self.id_ = None
                    self.trace_tag = trace_tag


            class S(Sensor):
                def run(self):
                    service = self.sensor_service
                    service.dispatch("tests.plain", {"n": 1}, trace_tag="tag-1")
                    service.dispatch_with_context(
                        "tests.dict_context", {"n": 2}, trace_context={"trace_tag": "tag-2"}
                    )
                    service.dispatch_with_context(
                        {"ref": "tests.from_dict", "id": "x"},
                        payload={"n": 3},
                        trace_context=TraceContext("tag-3"),
                    )
                    service.dispatch(trigger="tests.no_payload")
                    try:
                        service.dispatch("tests.bad", payload=[1, 2])
                    except TypeError as error:
                        service.dispatch("tests.error", {"error": str(error)})
                    at = datetime.datetime(2024, 1, 2, 3, 4, 5)
                    service.dispatch("tests.datetime", {"at": at})
                    while True:
                        time.sleep(1)
            """))
        host.expect("ready")
        event = host.expect_dispatch("tests.plain")
        self.assertEqual((event["payload"], event["trace_tag"]), ({"n": 1}, "tag-1"))
        event = host.expect_dispatch("tests.dict_context")
        self.assertEqual((event["payload"], event["trace_tag"]), ({"n": 2}, "tag-2"))
        event = host.expect_dispatch("tests.from_dict")
        self.assertEqual((event["payload"], event["trace_tag"]), ({"n": 3}, "tag-3"))
        event = host.expect_dispatch("tests.no_payload")
        self.assertEqual(event, {"type": "dispatch", "trigger": "tests.no_payload", "payload": {}})
        self.assertIn(
            "payload must be a dict", host.expect_dispatch("tests.error")["payload"]["error"]
        )
        event = host.expect_dispatch("tests.datetime")
        self.assertEqual(event["payload"], {"at": "2024-01-02T03:04:05"})
        self.assertCleanStdout(host)

    def test_rejected_dispatch_is_logged_as_a_warning(self):
        host = self.start(with_stubs("""
            import time
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def run(self):
                    self.sensor_service.dispatch("tests.strict", {"count": "nope"})
                    while True:
                        time.sleep(1)
            """))
        host.expect("ready")
        host.expect_dispatch("tests.strict")
        host.send(
            {
                "type": "rejected",
                "trigger": "tests.strict",
                "reason": "payload: `count` must be an integer",
            }
        )
        log = host.expect_log("rejected")
        self.assertEqual(log["level"], "warning")
        self.assertIn("tests.strict", log["message"])
        self.assertIn("`count` must be an integer", log["message"])

    def test_dispatch_checked_waits_for_the_host_and_reports_a_refusal(self):
        host = self.start(with_stubs("""
            import time
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def run(self):
                    service = self.sensor_service
                    instance = service.dispatch_checked("tests.ok", {"n": 1}, trace_tag="t-1")
                    service.dispatch("tests.result", {"instance": instance})
                    try:
                        service.dispatch_checked("tests.strict", {"n": "x"})
                    except Exception as error:
                        service.dispatch("tests.result", {"refused": str(error)})
                    while True:
                        time.sleep(1)
            """))
        host.expect("ready")
        event = host.expect_dispatch("tests.ok")
        self.assertEqual(event["trace_tag"], "t-1")
        self.assertIn("id", event, "a checked dispatch asks for a reply")
        host.send({"type": "reply", "id": event["id"], "ok": True,
                   "value": {"trigger_instance": "ti-42"}})
        self.assertEqual(host.expect_dispatch("tests.result")["payload"], {"instance": "ti-42"})
        event = host.expect_dispatch("tests.strict")
        host.send({"type": "rejected", "trigger": "tests.strict", "reason": "bad n",
                   "id": event["id"]})
        refused = host.expect_dispatch("tests.result")["payload"]["refused"]
        self.assertIn("bad n", refused)


class StdoutTest(SensorTestCase):
    def test_user_output_goes_to_stderr(self):
        host = self.start("""
            import os
            import subprocess
            import sys
            import time

            from st2reactor.sensor.base import Sensor

            print("printed in module")


            class S(Sensor):
                def __init__(self, sensor_service, config=None):
                    super(S, self).__init__(sensor_service, config)
                    print("printed in __init__")

                def setup(self):
                    print('{"type":"dispatch","trigger":"fake.from_print"}')

                def run(self):
                    sys.stdout.write("written to sys.stdout\\n")
                    sys.__stdout__.write("written to sys.__stdout__\\n")
                    sys.__stdout__.flush()
                    os.write(1, b"written to fd 1\\n")
                    subprocess.call(["sh", "-c", "echo from a child process"])
                    # A child process cannot read the host's messages either.
                    child = subprocess.run(["cat"], stdout=subprocess.PIPE, timeout=10)
                    read = child.stdout.decode()
                    self.sensor_service.dispatch("tests.done", {"child_read": read})
                    while True:
                        time.sleep(1)

                def cleanup(self):
                    pass

                def add_trigger(self, trigger):
                    pass

                def update_trigger(self, trigger):
                    pass

                def remove_trigger(self, trigger):
                    pass
            """)
        host.expect("ready")
        host.send({"type": "add_trigger", "trigger": PassiveSensorTest.TRIGGER})
        self.assertEqual(host.expect_dispatch("tests.done")["payload"], {"child_read": ""})
        host.send({"type": "shutdown"})
        self.assertEqual(host.wait_exit(), 0)
        self.assertCleanStdout(host)
        self.assertFalse(
            any(m["trigger"] == "fake.from_print" for m in host.seen if m["type"] == "dispatch")
        )
        stderr = host.stderr_text()
        for text in (
            "printed in module",
            "printed in __init__",
            '{"type":"dispatch","trigger":"fake.from_print"}',
            "written to sys.stdout",
            "written to sys.__stdout__",
            "written to fd 1",
            "from a child process",
        ):
            self.assertIn(text, stderr)


class HandshakeTest(SensorTestCase):
    PASSIVE = with_stubs("""
        import time
        from st2reactor.sensor.base import Sensor


        class S(Sensor):
            def run(self):
                while True:
                    time.sleep(1)
        """)

    def test_protocol_version_mismatch(self):
        host = self.start(self.PASSIVE, hello={"protocol": 2})
        error = host.expect("error")
        self.assertEqual(
            error["message"],
            "protocol version mismatch: host speaks 2, this Python sensor SDK speaks 1",
        )
        self.assertEqual(host.wait_exit(), 2)
        self.assertFalse(any(m["type"] == "ready" for m in host.seen))

    def test_first_line_must_be_hello(self):
        host = self.start(self.PASSIVE, hello=False)
        host.send({"type": "shutdown"})
        self.assertIn("expected a hello", host.expect("error")["message"])
        self.assertEqual(host.wait_exit(), 1)

    def test_heartbeats_at_the_promised_interval(self):
        host = self.start(self.PASSIVE, env={"NERVE_SENSOR_HEARTBEAT_INTERVAL": "0.2"})
        self.assertEqual(host.expect("ready")["heartbeat"], 0.2)
        started = time.monotonic()
        for _ in range(3):
            self.assertEqual(host.expect("heartbeat"), {"type": "heartbeat"})
        self.assertLess(time.monotonic() - started, 5)

    def test_extra_arguments_are_ignored(self):
        pack_dir = self.write_pack({"sensors/sensor.py": self.PASSIVE})
        path = os.path.join(pack_dir, "sensors", "sensor.py")
        host = FakeHost(
            [
                sys.executable,
                "-u",
                "-c",
                SDK_SOURCE,
                "--class-name=S",
                "--pack=tests",
                "--file-path=" + path,
                "--trigger-type-refs=a,b",
            ],
            os.path.dirname(path),
        )
        self.hosts.append(host)
        host.hello()
        host.expect("ready")


class FailureTest(SensorTestCase):
    def assertFails(self, host, *fragments):
        error = host.expect("error")
        for fragment in fragments:
            self.assertIn(fragment, error["message"])
        self.assertEqual(host.wait_exit(), 1)
        self.assertFalse(any(m["type"] == "ready" for m in host.seen))
        self.assertCleanStdout(host)
        return error

    def test_exception_in_init(self):
        host = self.start(with_stubs("""
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def __init__(self, sensor_service, config=None):
                    super(S, self).__init__(sensor_service, config)
                    raise KeyError("api_key")

                def run(self):
                    pass
            """))
        self.assertFails(host, 'Failed to instantiate "S" sensor class', "KeyError: 'api_key'")

    def test_exception_in_setup_still_cleans_up(self):
        host = self.start("""
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def setup(self):
                    raise ValueError("no connection")

                def run(self):
                    pass

                def cleanup(self):
                    self.sensor_service.get_logger("s").info("cleanup after failed setup")

                def add_trigger(self, trigger):
                    pass

                def update_trigger(self, trigger):
                    pass

                def remove_trigger(self, trigger):
                    pass
            """)
        error = self.assertFails(host, "failed in setup()", "ValueError: no connection")
        self.assertIn("Traceback", error["message"])
        host.expect_log("cleanup after failed setup")
        self.assertIn("ValueError: no connection", host.stderr_text())

    def test_exception_in_run(self):
        host = self.start(
            with_stubs("""
            from st2reactor.sensor.base import PollingSensor


            class S(PollingSensor):
                def poll(self):
                    raise RuntimeError("poll exploded")
            """),
            hello={"poll_interval": 0.05},
        )
        host.expect("ready")
        error = host.expect("error")
        self.assertIn('Sensor "S" failed in run()', error["message"])
        self.assertIn("RuntimeError: poll exploded", error["message"])
        self.assertEqual(host.wait_exit(), 1)

    def test_abstract_methods_missing(self):
        host = self.start("""
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def run(self):
                    pass
            """)
        self.assertFails(host, "Can't instantiate abstract class S")

    def test_missing_class(self):
        host = self.start(HandshakeTest.PASSIVE, class_name="Nope")
        self.assertFails(host, 'missing a class with name "Nope"')

    def test_syntax_error(self):
        host = self.start("def broken(:\n")
        self.assertFails(host, 'Failed to load sensor class "S"', "SyntaxError")

    def test_import_error(self):
        host = self.start("import no_such_module_for_nerve\n")
        self.assertFails(host, "No module named 'no_such_module_for_nerve'")

    def test_sys_exit_in_run(self):
        host = self.start(with_stubs("""
            import sys
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def run(self):
                    sys.exit(3)
            """))
        host.expect("ready")
        self.assertIn("SystemExit: 3", host.expect("error")["message"])
        self.assertEqual(host.wait_exit(), 1)


class ShutdownTest(SensorTestCase):
    SOURCE = """
        import time
        from st2reactor.sensor.base import Sensor


        class S(Sensor):
            def run(self):
                time.sleep(3600)

            def cleanup(self):
                self.sensor_service.get_logger("s").info("cleanup called")
                # cleanup() can still use the datastore (while the host is there).
                self.sensor_service.set_value("state", "saved")

            def setup(self):
                pass

            def add_trigger(self, trigger):
                pass

            def update_trigger(self, trigger):
                pass

            def remove_trigger(self, trigger):
                pass
    """

    def test_shutdown_calls_cleanup_and_exits_promptly(self):
        host = self.start(self.SOURCE)
        host.expect("ready")
        started = time.monotonic()
        host.send({"type": "shutdown"})
        host.expect_log("cleanup called")
        self.assertEqual(host.wait_exit(), 0)
        self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(host.kv["tests.S:state"], "saved")
        self.assertCleanStdout(host)

    def test_end_of_stdin_calls_cleanup_and_exits(self):
        host = self.start(self.SOURCE)
        host.expect("ready")
        host.close_stdin()
        host.expect_log("cleanup called")
        self.assertEqual(host.wait_exit(), 0)

    def test_sigterm_calls_cleanup_and_exits(self):
        host = self.start(self.SOURCE)
        host.expect("ready")
        host.proc.send_signal(signal.SIGTERM)
        host.expect_log("cleanup called")
        self.assertEqual(host.wait_exit(), 0)

    def test_run_returning_cleans_up_and_exits_0(self):
        host = self.start(self.SOURCE.replace("time.sleep(3600)", "return"))
        host.expect("ready")
        host.expect_log("cleanup called")
        self.assertEqual(host.wait_exit(), 0)


class LoggingTest(SensorTestCase):
    def test_loggers_send_log_messages(self):
        host = self.start(
            with_stubs(
                """
            import logging
            import time
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def setup(self):
                    self._logger = self.sensor_service.get_logger(name="mine")

                def run(self):
                    self._logger.debug("debug %d", 1)
                    self._logger.info("info %s", "two")
                    self._logger.warning("warning")
                    self._logger.error("error")
                    self._logger.critical("critical")
                    self._logger.audit("audit")
                    try:
                        1 / 0
                    except ZeroDivisionError:
                        self._logger.exception("it failed")
                    logging.getLogger("third.party").info("plain logging")
                    self._logger.info("done")
                    while True:
                        time.sleep(1)
            """,
                skip=("setup",),
            )
        )
        host.expect("ready")
        expected = [
            ("debug", "debug 1"),
            ("info", "info two"),
            ("warning", "warning"),
            ("error", "error"),
            ("critical", "critical"),
            ("info", "audit"),
        ]
        for level, message in expected:
            log = host.expect("log", lambda m: m["logger"] == "SensorWrapper.tests.S.mine")
            self.assertEqual((log["level"], log["message"]), (level, message))
        log = host.expect_log("it failed")
        self.assertEqual(log["level"], "error")
        self.assertIn("Traceback", log["message"])
        self.assertIn("ZeroDivisionError", log["message"])
        log = host.expect_log("plain logging")
        self.assertEqual((log["level"], log["logger"]), ("info", "third.party"))
        host.expect_log("done")
        self.assertCleanStdout(host)


class DatastoreTest(SensorTestCase):
    def run_script(self, body, **kwargs):
        """Runs `body` in run() (with `service` = the sensor service); it dispatches results."""
        header = textwrap.dedent("""
            import time
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def run(self):
                    service = self.sensor_service

                    def report(**payload):
                        service.dispatch("tests.result", payload)

            """)
        footer = "\n        while True:\n            time.sleep(1)\n"
        source = with_stubs(
            header + textwrap.indent(textwrap.dedent(body).strip(), " " * 8) + footer
        )
        host = self.start(source, **kwargs)
        host.expect("ready")
        return host

    def test_user_scope_raises_value_error(self):
        host = self.run_script("""
            for call in (
                lambda: service.get_value("k", scope="user"),
                lambda: service.set_value("k", "v", scope="st2kv.user"),
                lambda: service.delete_value("k", scope="all"),
            ):
                try:
                    call()
                except ValueError as error:
                    report(error=str(error))
            report(system=service.set_value("k", "v", scope="st2kv.system"),
                   value=service.get_value("k", scope="system"))
            """)
        errors = [host.expect_dispatch("tests.result")["payload"] for _ in range(3)]
        self.assertEqual(
            errors,
            [
                {"error": "Scope user is unsupported."},
                {"error": "Scope st2kv.user is unsupported."},
                {"error": "Scope all is unsupported."},
            ],
        )
        self.assertEqual(
            host.expect_dispatch("tests.result")["payload"], {"system": True, "value": "v"}
        )
        self.assertEqual(
            [r["type"] for r in host.kv_requests], ["kv_set", "kv_get"], "no request for bad scopes"
        )

    def test_list_get_delete(self):
        host = self.run_script("""
            service.set_value("a", 1)
            service.set_value("b", {"x": 1}, encrypt=True)
            service.set_value("shared", "yes", local=False)
            items = service.list_values()
            report(names=[i.name for i in items], values=[i.value for i in items],
                   secret=[i.secret for i in items], expire=[i.expire_timestamp for i in items])
            report(prefixed=[i.name for i in service.list_values(prefix="b", limit=5, offset=1)])
            report(everything=len(service.list_values(local=False)))
            report(missing=service.get_value("nope"),
                   plain=service.get_value("shared", local=False))
            report(deleted=service.delete_value("a"), again=service.delete_value("a"))
            report(user=service.get_user_info()["username"])
            """)
        first = host.expect_dispatch("tests.result")["payload"]
        self.assertEqual(first["names"], ["tests.S:a", "tests.S:b"])
        self.assertEqual(first["values"], ["1", "{'x': 1}"])
        self.assertEqual(first["secret"], [False, False])
        self.assertEqual(first["expire"], [None, None])
        self.assertEqual(
            host.expect_dispatch("tests.result")["payload"], {"prefixed": ["tests.S:b"]}
        )
        self.assertEqual(host.expect_dispatch("tests.result")["payload"], {"everything": 3})
        self.assertEqual(
            host.expect_dispatch("tests.result")["payload"], {"missing": None, "plain": "yes"}
        )
        self.assertEqual(
            host.expect_dispatch("tests.result")["payload"], {"deleted": True, "again": False}
        )
        self.assertEqual(
            host.expect_dispatch("tests.result")["payload"], {"user": "sensor_service"}
        )
        lists = [r for r in host.kv_requests if r["type"] == "kv_list"]
        self.assertEqual(
            [{k: v for k, v in r.items() if k != "id"} for r in lists],
            [
                {"type": "kv_list", "local": True},
                {"type": "kv_list", "local": True, "prefix": "b", "limit": 5, "offset": 1},
                {"type": "kv_list", "local": False},
            ],
        )
        encrypted = [r for r in host.kv_requests if r["type"] == "kv_set" and r["key"] == "b"]
        self.assertTrue(encrypted[0]["encrypt"])

    def test_error_replies(self):
        host = self.run_script(
            """
            report(value=service.get_value("k"))
            report(deleted=service.delete_value("k"))
            try:
                service.set_value("k", "v")
            except Exception as error:
                report(error=str(error), kind=type(error).__name__)
            """,
            kv_mode="fail",
        )
        self.assertEqual(host.expect_dispatch("tests.result")["payload"], {"value": None})
        self.assertEqual(host.expect_dispatch("tests.result")["payload"], {"deleted": False})
        self.assertEqual(
            host.expect_dispatch("tests.result")["payload"],
            {"error": "kv_set request failed: store is down", "kind": "DatastoreError"},
        )

    def test_unanswered_request_times_out(self):
        host = self.run_script(
            """
            started = time.monotonic()
            try:
                service.get_value("k")
            except Exception as error:
                report(error=str(error), seconds=time.monotonic() - started)
            """,
            kv_mode="silent",
            env={"NERVE_SENSOR_REQUEST_TIMEOUT": "0.3"},
        )
        payload = host.expect_dispatch("tests.result")["payload"]
        self.assertIn(
            "kv_get request 1 got no reply from the sensor host within 0.3 s", payload["error"]
        )
        self.assertLess(payload["seconds"], 5)


class PackLayoutTest(SensorTestCase):
    def test_siblings_and_pack_lib_are_importable(self):
        host = self.start(
            with_stubs("""
            import time
            import helper_sibling
            from common_lib import shared
            from st2common.util import concurrency
            from st2common.constants.keyvalue import SYSTEM_SCOPE
            from st2reactor.sensor.base import Sensor


            class S(Sensor):
                def run(self):
                    thread = concurrency.spawn(lambda a, b: a + b, 2, b=3)
                    self.sensor_service.dispatch(
                        "tests.imports",
                        {"sibling": helper_sibling.VALUE, "lib": shared(), "spawned": thread.wait(),
                         "scope": SYSTEM_SCOPE},
                    )
                    concurrency.sleep(3600)
            """),
            extra_files={
                "sensors/helper_sibling.py": "VALUE = 'sibling'\n",
                "lib/common_lib.py": "def shared():\n    return 'lib'\n",
            },
        )
        host.expect("ready")
        self.assertEqual(
            host.expect_dispatch("tests.imports")["payload"],
            {"sibling": "sibling", "lib": "lib", "spawned": 5, "scope": "system"},
        )


@unittest.skipUnless(os.path.isdir(EXAMPLES_PACK), "packs/examples not found")
class ExamplesPackTest(SensorTestCase):
    def test_sample_polling_sensor(self):
        path = os.path.join(EXAMPLES_PACK, "sensors", "sample_polling_sensor.py")
        host = FakeHost.python(path, "SamplePollingSensor", pack="examples")
        self.hosts.append(host)
        host.hello(poll_interval=0.05)
        host.expect("ready")
        counts = [host.expect_dispatch("examples.sample_polling")["payload"] for _ in range(3)]
        self.assertEqual(counts, [{"count": 1}, {"count": 2}, {"count": 3}])
        self.assertGreaterEqual(int(host.kv["examples.SamplePollingSensor:count"]), 3)
        host.send({"type": "shutdown"})
        self.assertEqual(host.wait_exit(), 0)
        self.assertCleanStdout(host)

    def start_shell(self, interval="0.2"):
        path = os.path.join(EXAMPLES_PACK, "sensors", "heartbeat_sensor.sh")
        env = {} if interval is None else {"NERVE_HEARTBEAT_INTERVAL": interval}
        host = FakeHost(
            ["sh", path],
            os.path.dirname(path),
            pack="examples",
            class_name="HeartbeatSensor",
            env=env,
        )
        self.hosts.append(host)
        return host

    def test_heartbeat_shell_sensor(self):
        host = self.start_shell()
        host.hello(config={"note": 'a "quoted" value with "type":"shutdown" inside'})
        self.assertEqual(host.expect("ready"), {"type": "ready", "protocol": 1})
        # Messages other than shutdown are ignored, even when a string in them looks like one.
        tricky = dict(
            PassiveSensorTest.TRIGGER, parameters={"type": "shutdown", "note": '"type":"shutdown"'}
        )
        host.send({"type": "add_trigger", "trigger": tricky})
        started = time.monotonic()
        events = [host.expect_dispatch("examples.heartbeat") for _ in range(3)]
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual([e["payload"]["seq"] for e in events], [1, 2, 3])
        for event in events:
            self.assertEqual(set(event["payload"]), {"seq", "host"})
            self.assertIsInstance(event["payload"]["host"], str)
            self.assertTrue(event["payload"]["host"])
        started = time.monotonic()
        host.send({"type": "shutdown"})
        self.assertEqual(host.wait_exit(), 0)
        self.assertLess(time.monotonic() - started, 3)
        # stdout is closed too: no background process kept it open.
        host._stdout_thread.join(3)
        self.assertFalse(host._stdout_thread.is_alive())
        self.assertCleanStdout(host)

    def test_heartbeat_shell_sensor_interval_from_pack_config(self):
        host = self.start_shell(interval=None)
        host.hello(config={"heartbeat_interval": 0.2, "other": 5})
        host.expect("ready")
        started = time.monotonic()
        for seq in (1, 2):
            self.assertEqual(host.expect_dispatch("examples.heartbeat")["payload"]["seq"], seq)
        self.assertLess(time.monotonic() - started, 5)

    def test_heartbeat_shell_sensor_exits_at_end_of_stdin(self):
        host = self.start_shell(interval="30")
        host.hello()
        host.expect("ready")
        started = time.monotonic()
        host.close_stdin()
        self.assertEqual(host.wait_exit(), 0)
        host._stdout_thread.join(3)
        self.assertFalse(host._stdout_thread.is_alive())
        self.assertLess(time.monotonic() - started, 3)

    def test_heartbeat_shell_sensor_refuses_other_versions(self):
        host = self.start_shell()
        host.hello(protocol=7)
        error = host.expect("error")
        self.assertEqual(
            error["message"],
            "protocol version mismatch: host speaks 7, this shell sensor speaks 1",
        )
        self.assertEqual(host.wait_exit(), 2)


if __name__ == "__main__":
    unittest.main()
