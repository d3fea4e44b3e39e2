"""Gateway: the I/O edge (command line now; HTTP and WebSocket in the gateway issue)."""
