"""The control plane's HTTP routes, composed from trainer and eval into the daemon."""
