"""End-to-end tests: real server processes, faults, hostile input and real databases."""
