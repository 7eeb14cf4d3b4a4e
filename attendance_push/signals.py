"""Signals the plugin sends, for hosts that react to a push in bulk."""

from django.dispatch import Signal

# Sent once per target and day, inside the push's transaction (a handler's writes land with the
# push, or not at all), with: sender (the attendance model), day, created, filled, skipped, using, and
# closed (why the day is closed for the target, or None).
target_pushed = Signal()
