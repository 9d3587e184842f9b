"""The service shell: the daemon's threads and signals, logging, status, systemd."""
