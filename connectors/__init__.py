"""Channel connectors (web chat, WhatsApp Cloud API, email): one package per channel."""
