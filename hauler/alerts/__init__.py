"""Alerts: rules over the health document and the activity log, grouped Alertmanager's way.

``hauler.alerts.service.evaluate(settings, document, now)`` is what ``health.check``
calls after each check; ``receive`` and ``flush`` are the engine's entry points.
"""
