"""The timer: the one place where wall-clock time enters the log, as `ClockTicked` events."""
