"""Alerts: rules over the health document and the activity log, grouped Alertmanager's way.

``hauler.alerts.service.evaluate(settings, document, now)`` evaluates the rules;
``health.check`` calls ``evaluate_quietly`` (the same, never raising) after each check.
``receive`` and ``flush`` are the engine's entry points.
"""
