"""The event contract: Avro schemas, the Python event types that mirror them, the codec.

Nothing outside this package imports fastavro.
"""
