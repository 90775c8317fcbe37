"""Running the stack without AWS: the template reader, the in-process gateway and the local runner."""
