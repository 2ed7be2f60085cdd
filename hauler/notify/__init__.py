"""Notifications: the receivers (Slack, Discord, a generic JSON webhook) and how to reach them."""
