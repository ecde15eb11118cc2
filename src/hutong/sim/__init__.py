"""The Double 11 scenario, played through hutong's real HTTP API."""
