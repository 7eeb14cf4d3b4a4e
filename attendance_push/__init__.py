"""attendance-push: fill each day's missing attendance records at a fixed local time."""
