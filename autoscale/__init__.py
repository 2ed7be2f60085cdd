"""The autoscaler: queue depth and latency → worker processes or containers."""
