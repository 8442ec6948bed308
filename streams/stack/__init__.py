"""The local stack: a real Apache Kafka broker (KRaft) and a real PostgreSQL server.

Started as plain processes on localhost, with every file under one state directory
(`.acolhe/` by default), no Docker engine. Used by `acolhe stack ...`, the demo and
the test fixtures. Holds no business rule.
"""
