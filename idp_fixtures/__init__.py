"""Test identity providers for Roster: generated at test time, never with committed private keys."""
