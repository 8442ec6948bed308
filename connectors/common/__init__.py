"""What every channel connector shares: contact identities, the media store, and the shell
that publishes events durably and delivers outbound messages."""
