"""Sensing (感知): IoT devices over MQTT and video-analytics alarms that file cases by
themselves."""
