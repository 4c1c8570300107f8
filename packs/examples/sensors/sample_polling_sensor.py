from st2reactor.sensor.base import PollingSensor


class SamplePollingSensor(PollingSensor):
    """
    An example polling sensor, written exactly as for StackStorm.

    * self.sensor_service
        - get_logger() for writing to logs,
        - dispatch() for dispatching triggers into the system,
        - get_value() / set_value() / list_values() / delete_value() for the datastore.
    * self.config
        - the pack's configuration.
    * self._poll_interval
        - the interval between two successive poll() calls (poll_interval in the metadata).

    On every poll it increments a counter kept in the datastore (so it survives restarts of
    the sensor) and dispatches it as `examples.sample_polling` {"count": N}.
    """

    TRIGGER = "examples.sample_polling"
    COUNT_KEY = "count"

    def __init__(self, sensor_service, config=None, poll_interval=None):
        super(SamplePollingSensor, self).__init__(
            sensor_service=sensor_service, config=config, poll_interval=poll_interval
        )
        self._logger = self.sensor_service.get_logger(name=self.__class__.__name__)
        self._count = 0

    def setup(self):
        # Called once, before the first poll: open connections etc. here.
        self._logger.info("Polling every %s seconds", self.get_poll_interval())

    def poll(self):
        # Called every self._poll_interval seconds. The key is local to this sensor: it is
        # stored as "examples.SamplePollingSensor:count".
        self._count = int(self.sensor_service.get_value(self.COUNT_KEY) or 0) + 1
        self.sensor_service.set_value(name=self.COUNT_KEY, value=self._count)
        self._logger.debug("Poll number %d", self._count)
        self.sensor_service.dispatch(trigger=self.TRIGGER, payload={"count": self._count})

    def cleanup(self):
        # Called when the sensor is shut down.
        self._logger.info("Stopped at poll number %d", self._count)

    # Methods required by the sensor API; this sensor has no parameterised triggers.
    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
