"""acolhe's stream processors and the shell code they share.

One package per processor (added by later work); `streams.shared` holds the settings,
errors, logging and Kafka/Postgres helpers; `streams.stack` runs the local Kafka and
PostgreSQL servers; `streams.cli` is the `acolhe` command.
"""
