"""Shell code shared by every processor and connector: settings, errors, logs, Kafka, Postgres."""
