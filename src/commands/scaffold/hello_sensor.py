"""A polling sensor written against StackStorm's sensor API; Nerve runs it unmodified."""

from st2reactor.sensor.base import PollingSensor


class HelloSensor(PollingSensor):
    def setup(self):
        self._logger = self.sensor_service.get_logger(__name__)

    def poll(self):
        count = int(self.sensor_service.get_value("count") or 0) + 1
        self.sensor_service.set_value("count", str(count))
        self._logger.info("Saying hello #%d.", count)
        self.sensor_service.dispatch(trigger="PACKNAME.hello", payload={"name": "world", "count": count})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
